//! `#[boomer::on(event)]`: parse the event and the fn, check that the fn's parameters fit the
//! event, register a `HandlerRegistration`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{LitStr, Meta, ReturnType, Signature, Type};

use crate::args::{self, as_str, key_of};
use crate::emit::{self, Private};
use crate::errors::Errors;
use crate::sig;

const ATTR: &str = "boomer::on";

/// Every event a handler can listen to: the key the attribute names it by, the
/// `EventKind` variant it registers under, and what its handlers may take. The parsing,
/// the messages and the expansion all read this table, so adding an event is one row here
/// (plus the variant in boomer-core's `events.rs`).
const EVENTS: &[EventDef] = &[
    EventDef::new("connected", "Connected", Takes::Nothing),
    EventDef::new("spawn", "Spawn", Takes::Spawn),
    EventDef::new("spawning_complete", "SpawningComplete", Takes::UserCount),
    EventDef::new("stop", "Stop", Takes::Nothing),
    EventDef::new("quit", "Quit", Takes::Nothing),
    EventDef::new("test_start", "TestStart", Takes::Nothing),
    EventDef::new("test_stop", "TestStop", Takes::Nothing),
    EventDef::new("message", "Message", Takes::Message),
];

/// Entry point of `#[boomer::on(...)]`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (event, krate) = parse_args(args, &mut errors);
    let Some(func) = sig::parse_fn(&item, ATTR, &mut errors) else {
        return errors.with_item(item);
    };
    let handler = Handler::check(&func.sig, event, &mut errors);
    match handler {
        Some(handler) if errors.is_empty() => {
            let registration = handler.expand(&Private::new(krate.as_ref()));
            quote!(#item #registration)
        }
        _ => errors.with_item(item),
    }
}

/// One row of [`EVENTS`].
struct EventDef {
    /// As written in the attribute: `spawn`, or `message` in `message = "<type>"`.
    key: &'static str,
    /// The `EventKind` variant.
    variant: &'static str,
    takes: Takes,
}

/// What the handlers of an event may take ([`Takes::shapes`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    /// `(users: u32, spawn_rate: f64)` or `(event: &SpawnEvent)`.
    Spawn,
    /// `(user_count: u64)`.
    UserCount,
    /// `(message: &CustomMessage)`; the event is written `key = "<type>"`, and its kind
    /// carries the type.
    Message,
}

impl EventDef {
    const fn new(key: &'static str, variant: &'static str, takes: Takes) -> Self {
        EventDef {
            key,
            variant,
            takes,
        }
    }

    /// The event of `key`, if there is one.
    fn find(key: &str) -> Option<&'static EventDef> {
        EVENTS.iter().find(|def| def.key == key)
    }

    /// How the attribute names it: `spawn`, `message = "<type>"`.
    fn usage(&self) -> String {
        match self.takes {
            Takes::Message => format!("{} = \"<type>\"", self.key),
            _ => self.key.to_string(),
        }
    }
}

impl Takes {
    /// The parameter lists its handlers may have, for messages.
    fn shapes(self) -> &'static str {
        match self {
            Takes::Spawn => "`(users: u32, spawn_rate: f64)` or `(event: &boomer::SpawnEvent)`",
            Takes::UserCount => "no parameter or `(user_count: u64)`",
            Takes::Message => "no parameter or `(message: &boomer::CustomMessage)`",
            Takes::Nothing => "no parameter",
        }
    }
}

/// "`connected`, `spawn`, ... or `message = "<type>"`", for messages.
fn expected_events() -> String {
    let usages: Vec<String> = EVENTS.iter().map(EventDef::usage).collect();
    args::one_of(&usages.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The event a handler listens to.
struct Event {
    def: &'static EventDef,
    /// The type of a custom message (`message = "<type>"`).
    message_type: Option<LitStr>,
}

impl Event {
    /// The name as written in the attribute.
    fn name(&self) -> &'static str {
        self.def.key
    }

    /// `EventKind::...`.
    fn kind(&self, p: &Private) -> TokenStream {
        let variant = Ident::new(self.def.variant, Span::call_site());
        match &self.message_type {
            Some(kind) => {
                quote!(#p::EventKind::#variant(::std::borrow::Cow::Borrowed(#kind)))
            }
            None => quote!(#p::EventKind::#variant),
        }
    }
}

/// The arguments: one event and, anywhere in the list, an optional `crate = "<path>"`.
fn parse_args(args: TokenStream, errors: &mut Errors) -> (Option<Event>, Option<syn::Path>) {
    let (krates, events): (Vec<Meta>, Vec<Meta>) = args::parse_list(args, errors)
        .into_iter()
        .partition(|meta| key_of(meta).as_deref() == Some(emit::CRATE_KEY));
    let mut krate = None;
    for (i, meta) in krates.iter().enumerate() {
        if i == 0 {
            krate = emit::parse_crate(meta, errors);
        } else {
            let message = format!("`{}` specified more than once", emit::CRATE_KEY);
            errors.spanned(meta.path(), message);
        }
    }
    (parse_event(events, errors), krate)
}

/// The one event named by `list`; anything else is an error.
fn parse_event(list: Vec<Meta>, errors: &mut Errors) -> Option<Event> {
    let Some((first, extra)) = list.split_first() else {
        let message = format!("`#[{ATTR}]` needs an event: one of {}", expected_events());
        errors.push(syn::Error::new(Span::call_site(), message));
        return None;
    };
    let def = key_of(first).and_then(|key| EventDef::find(&key));
    let event = match (def, first) {
        (Some(def), Meta::NameValue(nv)) if def.takes == Takes::Message => {
            message_type(def, &nv.value, errors)
        }
        (Some(def), _) if def.takes == Takes::Message => {
            let message = format!("`{}` needs the message type: `{}`", def.key, def.usage());
            errors.spanned(first, message);
            None
        }
        (Some(def), Meta::Path(_)) => Some(Event {
            def,
            message_type: None,
        }),
        (Some(def), _) => {
            let key = def.key;
            errors.spanned(first, format!("`{key}` takes no value: write `{key}`"));
            None
        }
        (None, _) => {
            let message = format!(
                "unknown event `{}`; expected one of {}",
                args::path_text(first),
                expected_events()
            );
            errors.spanned(first.path(), message);
            None
        }
    };
    for meta in extra {
        let message = format!(
            "`#[{ATTR}]` takes one event; to handle several, stack several `#[{ATTR}(...)]`"
        );
        errors.spanned(meta, message);
    }
    event
}

fn message_type(def: &'static EventDef, value: &syn::Expr, errors: &mut Errors) -> Option<Event> {
    match as_str(value) {
        Some(kind) if !kind.value().is_empty() => Some(Event {
            def,
            message_type: Some(kind.clone()),
        }),
        Some(kind) => {
            errors.spanned(kind, "the message type must not be empty");
            None
        }
        None => {
            let message = "the message type must be a string literal, like `message = \"ping\"`";
            errors.spanned(value, message);
            None
        }
    }
}

/// A handler that passed every check.
struct Handler<'a> {
    sig: &'a Signature,
    event: Event,
    payload: Payload<'a>,
}

/// What the handler is called with; each type is the user's, to report mismatches on it.
enum Payload<'a> {
    Nothing,
    /// `(users: u32, spawn_rate: f64)`.
    SpawnArgs(&'a Type, &'a Type),
    /// `(event: &SpawnEvent)`.
    SpawnEvent(&'a Type),
    /// `(user_count: u64)`.
    UserCount(&'a Type),
    /// `(message: &CustomMessage)`.
    Message(&'a Type),
}

impl<'a> Handler<'a> {
    /// The handler, if `event` is known; its errors are in `errors` either way.
    fn check(sig: &'a Signature, event: Option<Event>, errors: &mut Errors) -> Option<Self> {
        sig::check_callable(sig, ATTR, errors);
        check_output(sig, errors);
        let event = event?;
        let payload = payload(sig, &event, errors);
        Some(Handler {
            sig,
            event,
            payload,
        })
    }

    /// The `const _` block registering the handler.
    fn expand(&self, p: &Private) -> TokenStream {
        let kind = self.event.kind(p);
        let name = LitStr::new(&sig::fn_name(self.sig), Span::call_site());
        let future = sig::boxed_future(self.sig, p, self.call(p));
        quote! {
            const _: () = {
                fn __boomer_run<'a>(
                    __boomer_event: &'a #p::Event,
                ) -> #p::BoxFuture<'a, ()> {
                    #future
                }
                #p::inventory::submit! {
                    #p::HandlerRegistration {
                        event: #kind,
                        name: #name,
                        run: __boomer_run,
                        module: ::core::module_path!(),
                    }
                }
            };
        }
    }

    /// The call of the user's fn with the event's payload. Each argument is bound to a name
    /// that carries the span of the parameter it goes to, so that a wrong parameter type is
    /// reported on the user's code.
    fn call(&self, p: &Private) -> TokenStream {
        let user_fn = &self.sig.ident;
        let dot_await = self.sig.asyncness.map(|_| quote!(.await));
        let (payload_of, ty) = match self.payload {
            Payload::Nothing => {
                return quote! {
                    let _ = __boomer_event;
                    #user_fn()#dot_await
                };
            }
            Payload::SpawnArgs(users_ty, rate_ty) => {
                let users = Ident::new("__boomer_users", sig::name_span(users_ty));
                let rate = Ident::new("__boomer_rate", sig::name_span(rate_ty));
                return quote! {
                    if let ::core::option::Option::Some(__boomer_spawn) = __boomer_event.as_spawn() {
                        let #users = #p::spawn_users(__boomer_spawn);
                        let #rate = #p::spawn_rate(__boomer_spawn);
                        #user_fn(#users, #rate)#dot_await
                    }
                };
            }
            Payload::SpawnEvent(ty) => (quote!(as_spawn), ty),
            Payload::UserCount(ty) => (quote!(as_spawning_complete), ty),
            Payload::Message(ty) => (quote!(as_message), ty),
        };
        let payload = Ident::new("__boomer_payload", sig::name_span(ty));
        quote! {
            if let ::core::option::Option::Some(#payload) = __boomer_event.#payload_of() {
                #user_fn(#payload)#dot_await
            }
        }
    }
}

/// Checks that the handler returns `()`: nothing would look at anything else.
fn check_output(sig: &Signature, errors: &mut Errors) {
    if let ReturnType::Type(_, ty) = &sig.output {
        if !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) {
            let message = "an event handler returns `()`: handle or log errors inside it";
            errors.spanned(ty, message);
        }
    }
}

/// What the handler's parameters ask for, if they fit the event.
fn payload<'a>(sig: &'a Signature, event: &Event, errors: &mut Errors) -> Payload<'a> {
    let params = sig::params(sig);
    let by_ref = |ty: &Type| sig::referent(ty, false).is_some();
    match (event.def.takes, params.as_slice()) {
        (Takes::Spawn, [users, rate]) => return Payload::SpawnArgs(&users.ty, &rate.ty),
        (Takes::Spawn, [ev]) if by_ref(&ev.ty) => return Payload::SpawnEvent(&ev.ty),
        (Takes::Spawn, _) => {}
        (Takes::UserCount, [n]) => return Payload::UserCount(&n.ty),
        (Takes::Message, [msg]) if by_ref(&msg.ty) => return Payload::Message(&msg.ty),
        (_, []) => return Payload::Nothing,
        _ => {}
    }
    let message = format!(
        "a `{}` handler takes {}",
        event.name(),
        event.def.takes.shapes()
    );
    if sig.inputs.is_empty() {
        errors.push(syn::Error::new(sig.paren_token.span.join(), message));
    } else {
        errors.spanned(&sig.inputs, message);
    }
    Payload::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_errors(args: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        parse_args(args, &mut errors);
        errors.messages()
    }

    fn handler_errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let event = parse_args(args, &mut errors).0;
        let func: sig::FnItem = syn::parse2(item).unwrap();
        Handler::check(&func.sig, event, &mut errors);
        errors.messages()
    }

    #[test]
    fn reads_every_event() {
        for key in [
            "connected",
            "spawn",
            "spawning_complete",
            "stop",
            "quit",
            "test_start",
            "test_stop",
        ] {
            let mut errors = Errors::default();
            let ident = Ident::new(key, Span::call_site());
            let event = parse_args(quote!(#ident), &mut errors).0;
            assert_eq!(event.map(|e| e.name()), Some(key));
            assert!(errors.is_empty());
        }
        let mut errors = Errors::default();
        let event = parse_args(quote!(message = "ping"), &mut errors).0;
        assert!(matches!(event, Some(Event { message_type: Some(t), .. }) if t.value() == "ping"));
    }

    #[test]
    fn rejects_malformed_events() {
        let unknown = "unknown event `spwan`; expected one of `connected`, `spawn`, \
                       `spawning_complete`, `stop`, `quit`, `test_start`, `test_stop` or \
                       `message = \"<type>\"`";
        assert_eq!(event_errors(quote!(spwan)), [unknown]);
        assert_eq!(event_errors(quote!(message)).len(), 1);
        assert_eq!(event_errors(quote!(message = "")).len(), 1);
        assert_eq!(event_errors(quote!(message = ping)).len(), 1);
        assert_eq!(event_errors(quote!(stop = "x")).len(), 1);
        assert_eq!(event_errors(quote!(stop, quit)).len(), 1);
        assert_eq!(event_errors(quote!()).len(), 1);
    }

    #[test]
    fn emits_the_kind_from_the_table() {
        let kind = |args: TokenStream| {
            let mut errors = Errors::default();
            let (event, krate) = parse_args(args, &mut errors);
            assert!(errors.is_empty());
            event
                .unwrap()
                .kind(&Private::new(krate.as_ref()))
                .to_string()
        };
        assert_eq!(
            kind(quote!(spawning_complete)),
            ":: boomer :: __private :: EventKind :: SpawningComplete"
        );
        assert_eq!(
            kind(quote!(message = "m", crate = "renamed")),
            "renamed :: __private :: EventKind :: Message (:: std :: borrow :: Cow :: Borrowed (\"m\"))"
        );
        assert_eq!(
            kind(quote!(crate = "::x::boomer", stop)),
            ":: x :: boomer :: __private :: EventKind :: Stop"
        );
    }

    #[test]
    fn every_path_goes_through_the_crate_key() {
        for args in [
            quote!(spawn, crate = "renamed"),
            quote!(message = "m", crate = "renamed"),
        ] {
            let item = quote!(
                async fn f(m: &CustomMessage) {}
            );
            let out = expand(args, item).to_string();
            assert!(!out.contains("boomer ::"), "{out}");
        }
    }

    #[test]
    fn the_crate_key_goes_anywhere_once() {
        assert!(event_errors(quote!(stop, crate = "b")).is_empty());
        assert_eq!(
            event_errors(quote!(stop, crate = "b", crate = "c")),
            ["`crate` specified more than once"]
        );
        assert_eq!(event_errors(quote!(crate = "b")).len(), 1);
        assert_eq!(event_errors(quote!(stop, crate = b)).len(), 1);
    }

    #[test]
    fn parameters_must_fit_the_event() {
        let fits = [
            (
                quote!(spawn),
                quote!(
                    fn f(u: u32, r: f64) {}
                ),
            ),
            (
                quote!(spawn),
                quote!(
                    async fn f(e: &SpawnEvent) {}
                ),
            ),
            (
                quote!(spawning_complete),
                quote!(
                    fn f() {}
                ),
            ),
            (
                quote!(spawning_complete),
                quote!(
                    fn f(n: u64) -> () {}
                ),
            ),
            (
                quote!(message = "m"),
                quote!(
                    fn f(m: &CustomMessage) {}
                ),
            ),
            (
                quote!(message = "m"),
                quote!(
                    fn f() {}
                ),
            ),
            (
                quote!(quit),
                quote!(
                    async fn f() {}
                ),
            ),
        ];
        for (args, item) in fits {
            assert!(handler_errors(args, item).is_empty());
        }
        let misfits = [
            (
                quote!(spawn),
                quote!(
                    fn f() {}
                ),
            ),
            (
                quote!(spawn),
                quote!(
                    fn f(u: u32) {}
                ),
            ),
            (
                quote!(message = "m"),
                quote!(
                    fn f(m: CustomMessage) {}
                ),
            ),
            (
                quote!(stop),
                quote!(
                    fn f(n: u64) {}
                ),
            ),
            (
                quote!(stop),
                quote!(
                    fn f() -> bool {}
                ),
            ),
        ];
        for (args, item) in misfits {
            assert_eq!(handler_errors(args, item).len(), 1);
        }
    }

    #[test]
    fn reports_event_and_signature_errors_together() {
        let errors = handler_errors(
            quote!(stpo),
            quote!(
                fn f<T>(&self) -> u8 {}
            ),
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }
}
