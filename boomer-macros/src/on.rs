//! `#[boomer::on(event)]`: parse the event and the fn, check that the fn's parameters fit the
//! event, register a `HandlerRegistration`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{LitStr, Meta, ReturnType, Signature, Type};

use crate::args::{self, as_str, key_of};
use crate::errors::Errors;
use crate::sig;

const ATTR: &str = "boomer::on";
const EVENTS: &str = "`connected`, `spawn`, `spawning_complete`, `stop`, `quit`, `test_start`, \
                      `test_stop` or `message = \"<type>\"`";

/// Entry point of `#[boomer::on(...)]`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let event = parse_event(args, &mut errors);
    let Some(func) = sig::parse_fn(&item, ATTR, &mut errors) else {
        return errors.with_item(item);
    };
    let handler = Handler::check(&func.sig, event, &mut errors);
    match handler {
        Some(handler) if errors.is_empty() => {
            let registration = handler.expand();
            quote!(#item #registration)
        }
        _ => errors.with_item(item),
    }
}

/// The events a handler can listen to.
enum Event {
    Connected,
    Spawn,
    SpawningComplete,
    Stop,
    Quit,
    TestStart,
    TestStop,
    Message(LitStr),
}

impl Event {
    /// The event of a plain key, like `spawn`.
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "connected" => Event::Connected,
            "spawn" => Event::Spawn,
            "spawning_complete" => Event::SpawningComplete,
            "stop" => Event::Stop,
            "quit" => Event::Quit,
            "test_start" => Event::TestStart,
            "test_stop" => Event::TestStop,
            _ => return None,
        })
    }

    /// The name as written in the attribute.
    fn name(&self) -> &'static str {
        match self {
            Event::Connected => "connected",
            Event::Spawn => "spawn",
            Event::SpawningComplete => "spawning_complete",
            Event::Stop => "stop",
            Event::Quit => "quit",
            Event::TestStart => "test_start",
            Event::TestStop => "test_stop",
            Event::Message(_) => "message",
        }
    }

    /// The parameter lists its handlers may have, for messages.
    fn shapes(&self) -> &'static str {
        match self {
            Event::Spawn => "`(users: u32, spawn_rate: f64)` or `(event: &boomer::SpawnEvent)`",
            Event::SpawningComplete => "no parameter or `(user_count: u64)`",
            Event::Message(_) => "no parameter or `(message: &boomer::CustomMessage)`",
            _ => "no parameter",
        }
    }

    /// `StaticEventKind::...`.
    fn kind(&self) -> TokenStream {
        let kind = quote!(::boomer::__private::StaticEventKind);
        match self {
            Event::Connected => quote!(#kind::Connected),
            Event::Spawn => quote!(#kind::Spawn),
            Event::SpawningComplete => quote!(#kind::SpawningComplete),
            Event::Stop => quote!(#kind::Stop),
            Event::Quit => quote!(#kind::Quit),
            Event::TestStart => quote!(#kind::TestStart),
            Event::TestStop => quote!(#kind::TestStop),
            Event::Message(kind_name) => quote!(#kind::Message(#kind_name)),
        }
    }
}

/// The one event named by the arguments; anything else is an error.
fn parse_event(args: TokenStream, errors: &mut Errors) -> Option<Event> {
    let list = args::parse_list(args, errors);
    let Some((first, extra)) = list.split_first() else {
        let message = format!("`#[{ATTR}]` needs an event: one of {EVENTS}");
        errors.push(syn::Error::new(Span::call_site(), message));
        return None;
    };
    let event = match (key_of(first).as_deref(), first) {
        (Some("message"), Meta::NameValue(nv)) => message_type(&nv.value, errors),
        (Some("message"), _) => {
            let message = "`message` needs the message type: `message = \"<type>\"`";
            errors.spanned(first, message);
            None
        }
        (Some(key), Meta::Path(_)) if Event::from_key(key).is_some() => Event::from_key(key),
        (Some(key), _) if Event::from_key(key).is_some() => {
            errors.spanned(first, format!("`{key}` takes no value: write `{key}`"));
            None
        }
        _ => {
            let message = format!(
                "unknown event `{}`; expected one of {EVENTS}",
                args::path_text(first)
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

fn message_type(value: &syn::Expr, errors: &mut Errors) -> Option<Event> {
    match as_str(value) {
        Some(kind) if !kind.value().is_empty() => Some(Event::Message(kind.clone())),
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
    fn expand(&self) -> TokenStream {
        let kind = self.event.kind();
        let name = LitStr::new(&sig::fn_name(self.sig), Span::call_site());
        let future = sig::boxed_future(self.sig, self.call());
        quote! {
            const _: () = {
                fn __boomer_run<'a>(
                    __boomer_event: &'a ::boomer::__private::Event,
                ) -> ::boomer::__private::BoxFuture<'a, ()> {
                    #future
                }
                ::boomer::__private::inventory::submit! {
                    ::boomer::__private::HandlerRegistration {
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
    fn call(&self) -> TokenStream {
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
                        let #users = ::boomer::__private::spawn_users(__boomer_spawn);
                        let #rate = ::boomer::__private::spawn_rate(__boomer_spawn);
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
    match (event, params.as_slice()) {
        (Event::Spawn, [users, rate]) => return Payload::SpawnArgs(&users.ty, &rate.ty),
        (Event::Spawn, [ev]) if by_ref(&ev.ty) => return Payload::SpawnEvent(&ev.ty),
        (Event::Spawn, _) => {}
        (Event::SpawningComplete, [n]) => return Payload::UserCount(&n.ty),
        (Event::Message(_), [msg]) if by_ref(&msg.ty) => return Payload::Message(&msg.ty),
        (_, []) => return Payload::Nothing,
        _ => {}
    }
    let message = format!("a `{}` handler takes {}", event.name(), event.shapes());
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
        parse_event(args, &mut errors);
        errors.messages()
    }

    fn handler_errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let event = parse_event(args, &mut errors);
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
            let event = parse_event(quote!(#ident), &mut errors);
            assert_eq!(event.map(|e| e.name()), Some(key));
            assert!(errors.is_empty());
        }
        let mut errors = Errors::default();
        let event = parse_event(quote!(message = "ping"), &mut errors);
        assert!(matches!(event, Some(Event::Message(t)) if t.value() == "ping"));
    }

    #[test]
    fn rejects_malformed_events() {
        let unknown = format!("unknown event `spwan`; expected one of {EVENTS}");
        assert_eq!(event_errors(quote!(spwan)), [unknown]);
        assert_eq!(event_errors(quote!(message)).len(), 1);
        assert_eq!(event_errors(quote!(message = "")).len(), 1);
        assert_eq!(event_errors(quote!(message = ping)).len(), 1);
        assert_eq!(event_errors(quote!(stop = "x")).len(), 1);
        assert_eq!(event_errors(quote!(stop, quit)).len(), 1);
        assert_eq!(event_errors(quote!()).len(), 1);
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
