//! `#[boomer::user]`: parse the keys and the struct, check them, register a
//! `UserClassRegistration` whose `on_start` builds the struct and whose `on_stop` tears it
//! down.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_quote, Expr, ItemStruct, LitStr, Meta, Path};

use crate::args;
use crate::emit::{self, Private};
use crate::errors::Errors;

const ATTR: &str = "boomer::user";
const KEYS: &[&str] = &[
    "name",
    "weight",
    "fixed_count",
    "wait_time",
    "arrival_rate",
    "host",
    "tags",
    "sequential",
    "on_start",
    "on_stop",
];

/// Entry point of `#[boomer::user(...)]`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = UserArgs::parse(args, &mut errors);
    let Some(item_struct) = parse_struct(&item, &mut errors) else {
        return errors.with_item(item);
    };
    check_generics(&item_struct, &mut errors);
    if !errors.is_empty() {
        let fallback = fallback(&item_struct, &args);
        return errors.with_item(quote!(#item #fallback));
    }
    let registration = UserClass::new(&item_struct.ident, args).expand();
    quote!(#item #registration)
}

/// What a class with errors still emits, as thiserror's `fallback.rs` does: the marker
/// that makes the struct a user class, so that its tasks (`&mut T`) and hooks do not add a
/// misleading "`T` is not a user class" to the one real mistake. Nothing is registered.
/// A generic struct (already an error) or a `crate` path that did not parse gets none: the
/// marker could not name the type or the trait.
fn fallback(item: &ItemStruct, args: &UserArgs) -> TokenStream {
    if !item.generics.params.is_empty() || args.bad_crate {
        return TokenStream::new();
    }
    let marker = marker(&item.ident, &Private::new(args.krate.as_ref()));
    quote!(const _: () = { #marker };)
}

/// `impl UserClass for T {}`, spanned at the struct's name: "`T` cannot be sent between
/// threads safely" (or any other reason it cannot be a class) points there.
fn marker(ident: &Ident, p: &Private) -> TokenStream {
    let p = p.at(ident.span());
    quote_spanned! {ident.span()=>
        impl #p::UserClass for #ident {}
    }
}

/// The keys of `#[boomer::user(...)]`, each checked on its own.
#[derive(Default)]
struct UserArgs {
    name: Option<String>,
    weight: Option<u32>,
    fixed_count: Option<u32>,
    wait_time: Option<Expr>,
    /// `arrival_rate = 400` / `= 12.5` / `= "0, 30s:400"`: the rate's text.
    arrival_rate: Option<String>,
    host: Option<String>,
    tags: Vec<String>,
    sequential: bool,
    on_start: Option<Path>,
    on_stop: Option<Path>,
    /// `crate = "<path>"`.
    krate: Option<Path>,
    /// Whether a `crate` key was given but is not a path.
    bad_crate: bool,
}

impl UserArgs {
    fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut parsed = UserArgs::default();
        let list = args::parse_list(args, errors);
        args::each_key(list, KEYS, errors, |key, meta, errors| match key {
            "name" => parsed.name = args::parse_str(meta, "name = \"Shopper\"", errors),
            "weight" => parsed.weight = args::parse_weight(meta, "class", errors),
            "fixed_count" => {
                let count = args::parse_u32(meta, "non-negative", "fixed_count = 1", errors);
                parsed.fixed_count = count.map(|(n, _)| n);
            }
            "wait_time" => {
                let usage = "wait_time = boomer::between(1.0, 2.0)";
                parsed.wait_time = args::value_of(meta, usage, errors).cloned();
            }
            "arrival_rate" => parsed.arrival_rate = parse_arrival_rate(meta, errors),
            "host" => parsed.host = args::parse_str(meta, "host = \"http://localhost\"", errors),
            "tags" => parsed.tags = args::parse_tags(meta, errors),
            "sequential" => parsed.sequential = args::check_flag(meta, errors),
            "on_start" => parsed.on_start = parse_hook(meta, "on_start = login", errors),
            "on_stop" => parsed.on_stop = parse_hook(meta, "on_stop = logout", errors),
            emit::CRATE_KEY => {
                parsed.krate = emit::parse_crate(meta, errors);
                parsed.bad_crate = parsed.krate.is_none();
            }
            _ => {}
        });
        if let (Some(_), Some(wait)) = (&parsed.arrival_rate, &parsed.wait_time) {
            errors.spanned(
                wait,
                "an arrival-driven class does not wait between iterations: they start at its \
                 `arrival_rate`, whatever the response times; remove `wait_time` (or \
                 `arrival_rate`, for a closed loop)",
            );
        }
        parsed
    }
}

/// `arrival_rate = 400`, `= 12.5` (iterations per second) or `= "0, 30s:400, 5m:0"`
/// (stages, checked when the worker starts, as `--arrival-rate`'s).
fn parse_arrival_rate(meta: &Meta, errors: &mut Errors) -> Option<String> {
    let value = args::value_of(meta, "arrival_rate = 400", errors)?;
    let rate = match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        }) => n.base10_digits().to_string(),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_digits().to_string(),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) if !s.value().trim().is_empty() => return Some(s.value()),
        _ => {
            errors.spanned(
                value,
                "`arrival_rate` is iterations per second, a number like `arrival_rate = 400`, \
                 or stages in a string, like `arrival_rate = \"0, 30s:400, 5m:400\"`",
            );
            return None;
        }
    };
    match rate.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Some(rate),
        _ => {
            errors.spanned(
                value,
                "`arrival_rate` must be 0 or more iterations per second, like `arrival_rate = 400`",
            );
            None
        }
    }
}

/// `on_start = path::to::fn` (or `on_stop`).
fn parse_hook(meta: &Meta, example: &str, errors: &mut Errors) -> Option<Path> {
    let value = args::value_of(meta, example, errors)?;
    match value {
        Expr::Path(p) if p.qself.is_none() => Some(p.path.clone()),
        _ => {
            let key = args::path_text(meta);
            let message = format!("`{key}` must be the path of an `async fn`, like `{example}`");
            errors.spanned(value, message);
            None
        }
    }
}

/// `item` as a struct, or an error at its first token that does not fit one (`enum`, `fn`,
/// ...).
fn parse_struct(item: &TokenStream, errors: &mut Errors) -> Option<ItemStruct> {
    match syn::parse2::<ItemStruct>(item.clone()) {
        Ok(item) => Some(item),
        Err(error) => {
            let message = format!(
                "`#[{ATTR}]` goes on a struct: its value is the state of one user of the class"
            );
            errors.push(syn::Error::new(error.span(), message));
            None
        }
    }
}

/// A class is one type: boomer builds its users without choosing type or lifetime
/// arguments.
fn check_generics(item: &ItemStruct, errors: &mut Errors) {
    for param in &item.generics.params {
        let message = format!(
            "`#[{ATTR}]` structs cannot have generic parameters: a user class is one type, and \
             its state lives as long as its user (`'static`)"
        );
        errors.spanned(param, message);
    }
}

/// A class that passed every check.
struct UserClass<'a> {
    ident: &'a Ident,
    name: String,
    args: UserArgs,
    /// Where the generated code finds boomer.
    private: Private,
}

impl<'a> UserClass<'a> {
    fn new(ident: &'a Ident, args: UserArgs) -> Self {
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| syn::ext::IdentExt::unraw(ident).to_string());
        let private = Private::new(args.krate.as_ref());
        UserClass {
            ident,
            name,
            args,
            private,
        }
    }

    /// The `const _` block registering the class.
    fn expand(&self) -> TokenStream {
        let p = &self.private;
        let ident = self.ident;
        let name = LitStr::new(&self.name, Span::call_site());
        let weight = self.args.weight.unwrap_or(1);
        let fixed_count = self.args.fixed_count.unwrap_or(0);
        let host = match &self.args.host {
            Some(host) => quote!(::core::option::Option::Some(#host)),
            None => quote!(::core::option::Option::None),
        };
        let tags = &self.args.tags;
        let sequential = self.args.sequential;
        let wait_time = self.wait_time();
        let arrival_rate = match &self.args.arrival_rate {
            Some(rate) => quote!(::core::option::Option::Some(#rate)),
            None => quote!(::core::option::Option::None),
        };
        let (start_fn, on_start) = self.on_start();
        let (stop_fn, on_stop) = self.on_stop();
        let marker = marker(ident, p);
        quote! {
            const _: () = {
                #marker
                #wait_time
                #start_fn
                #stop_fn
                #p::inventory::submit! {
                    #p::UserClassRegistration {
                        name: #name,
                        weight: #weight,
                        fixed_count: #fixed_count,
                        wait_time: __boomer_wait_time,
                        arrival_rate: #arrival_rate,
                        host: #host,
                        tags: &[#(#tags),*],
                        sequential: #sequential,
                        on_start: #on_start,
                        on_stop: #on_stop,
                        type_id: #p::TypeId::of::<#ident>,
                    }
                }
            };
        }
    }

    /// `fn __boomer_wait_time`, returning the user's expression: a value of another type is
    /// reported on the expression.
    fn wait_time(&self) -> TokenStream {
        let p = &self.private;
        let none = parse_quote!(#p::WaitTime::None);
        let expr = self.args.wait_time.as_ref().unwrap_or(&none);
        let ret = {
            let p = p.at(expr.span());
            quote_spanned!(expr.span()=> #p::WaitTime)
        };
        quote! {
            fn __boomer_wait_time() -> #ret {
                #expr
            }
        }
    }

    /// The `StartFn` (a generated fn, if any) and the expression registering it: the user's
    /// `on_start`, or `Default::default()` without one.
    fn on_start(&self) -> (TokenStream, TokenStream) {
        let p = &self.private;
        let ident = self.ident;
        let Some(path) = &self.args.on_start else {
            let p = p.at(ident.span());
            let default = quote_spanned! {ident.span()=>
                #p::default_start::<#ident>
            };
            return (TokenStream::new(), default);
        };
        let path = self.resolve(path);
        let span = path.span();
        let at = p.at(span);
        // Spanned so that a wrong signature (a plain `fn`, another return type, a future
        // that is not `Send`) is reported on the path the user wrote.
        let future = quote_spanned! {span=>
            #at::Box::pin(async move {
                let __boomer_built =
                    #at::start_future(#path(__boomer_ctx)).await;
                #at::start_state::<#ident>(__boomer_built)
            })
        };
        let start_fn = quote! {
            fn __boomer_start<'a>(
                __boomer_ctx: &'a mut #p::Ctx,
            ) -> #p::BoxFuture<
                'a,
                ::core::result::Result<#p::UserState, ::std::string::String>,
            > {
                #future
            }
        };
        (start_fn, quote!(__boomer_start))
    }

    /// The `StopFn` (if any) and the expression registering it. The state is the class's
    /// type unless boomer itself mixed users up; then there is nothing to tear down.
    fn on_stop(&self) -> (TokenStream, TokenStream) {
        let p = &self.private;
        let ident = self.ident;
        let Some(path) = &self.args.on_stop else {
            return (TokenStream::new(), quote!(::core::option::Option::None));
        };
        let path = self.resolve(path);
        let span = path.span();
        let at = p.at(span);
        let future = quote_spanned! {span=>
            #at::Box::pin(async move {
                if let ::core::result::Result::Ok(__boomer_user) =
                    #at::user_state::<#ident>(__boomer_state)
                {
                    let () = #at::stop_future(#path(__boomer_user, __boomer_ctx))
                        .await;
                }
            })
        };
        let stop_fn = quote! {
            fn __boomer_stop<'a>(
                __boomer_state: &'a mut (dyn #p::Any + ::core::marker::Send),
                __boomer_ctx: &'a mut #p::Ctx,
            ) -> #p::BoxFuture<'a, ()> {
                #future
            }
        };
        (stop_fn, quote!(::core::option::Option::Some(__boomer_stop)))
    }

    /// `path` with a leading `Self` replaced by the struct's name: the hooks are called from
    /// outside its `impl`, where `Self` means nothing.
    fn resolve(&self, path: &Path) -> Path {
        let mut path = path.clone();
        if let Some(first) = path.segments.first_mut() {
            if first.ident == "Self" {
                let mut ident = self.ident.clone();
                ident.set_span(first.ident.span());
                first.ident = ident;
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg_errors(args: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        UserArgs::parse(args, &mut errors);
        errors.messages()
    }

    fn expanded(args: TokenStream, item: TokenStream) -> String {
        expand(args, item).to_string()
    }

    #[test]
    fn reads_every_key() {
        let mut errors = Errors::default();
        let args = UserArgs::parse(
            quote!(
                name = "Shop",
                weight = 3,
                fixed_count = 2,
                wait_time = boomer::between(1.0, 2.0),
                host = "http://x",
                tags = ["a"],
                sequential,
                on_start = Self::login,
                on_stop = logout
            ),
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(args.name.as_deref(), Some("Shop"));
        assert_eq!((args.weight, args.fixed_count), (Some(3), Some(2)));
        assert!(args.wait_time.is_some() && args.sequential);
        assert_eq!(args.host.as_deref(), Some("http://x"));
        assert_eq!(args.tags, ["a"]);
        assert!(args.on_start.is_some() && args.on_stop.is_some());
    }

    #[test]
    fn arrival_rate_is_a_number_or_stages_and_excludes_wait_time() {
        for (rate, text) in [
            (quote!(arrival_rate = 400), "400"),
            (quote!(arrival_rate = 12.5), "12.5"),
            (quote!(arrival_rate = "0, 30s:400"), "0, 30s:400"),
        ] {
            let mut errors = Errors::default();
            let args = UserArgs::parse(rate, &mut errors);
            assert!(errors.is_empty());
            assert_eq!(args.arrival_rate.as_deref(), Some(text));
        }
        let errors = arg_errors(quote!(arrival_rate = 5, wait_time = boomer::constant(1.0)));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("an arrival-driven class does not wait"),
            "{errors:?}"
        );
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let errors = arg_errors(quote!(
            weight = 0,
            weight = 1,
            fixed_count = "2",
            name = Shop,
            sequential = true,
            on_start = || 1,
            colour = "red"
        ));
        assert_eq!(
            errors,
            [
                "`weight` must be at least 1: a class of weight 0 would never run",
                "`weight` specified more than once",
                "`fixed_count` must be a non-negative integer literal, like `fixed_count = 1`",
                "`name` must be a string literal, like `name = \"Shopper\"`",
                "`sequential` is a flag and takes no value: write `sequential`",
                "`on_start` must be the path of an `async fn`, like `on_start = login`",
                "unknown key `colour`; expected one of `name`, `weight`, `fixed_count`, \
                 `wait_time`, `arrival_rate`, `host`, `tags`, `sequential`, `on_start` or `on_stop`",
            ]
        );
    }

    #[test]
    fn the_name_defaults_to_the_struct_name() {
        let out = expanded(
            quote!(),
            quote!(
                struct r#Shopper;
            ),
        );
        assert!(out.contains("name : \"Shopper\""), "{out}");
        assert!(out.contains("default_start :: < r#Shopper >"), "{out}");
    }

    #[test]
    fn every_path_goes_through_the_crate_key() {
        let out = expanded(
            quote!(crate = "renamed", on_start = login, on_stop = logout),
            quote!(
                struct Shopper;
            ),
        );
        assert!(!out.contains("boomer ::"), "{out}");
        assert!(
            out.contains("impl renamed :: __private :: UserClass for Shopper"),
            "{out}"
        );
    }

    #[test]
    fn a_class_with_errors_is_still_a_class() {
        let out = expanded(
            quote!(weight = 0),
            quote!(
                struct Shopper;
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(
            out.contains("impl :: boomer :: __private :: UserClass for Shopper"),
            "{out}"
        );
        assert!(!out.contains("UserClassRegistration"), "{out}");
        let generic = expanded(
            quote!(),
            quote!(
                struct Shopper<T>(T);
            ),
        );
        assert!(!generic.contains("impl"), "{generic}");
        let bad_crate = expanded(
            quote!(crate = 1),
            quote!(
                struct Shopper;
            ),
        );
        assert!(!bad_crate.contains("impl"), "{bad_crate}");
    }

    #[test]
    fn self_in_hooks_is_the_struct() {
        let out = expanded(
            quote!(on_start = Self::login),
            quote!(
                struct Shopper;
            ),
        );
        assert!(out.contains("Shopper :: login (__boomer_ctx)"), "{out}");
    }

    #[test]
    fn only_plain_structs() {
        let mut errors = Errors::default();
        assert!(parse_struct(
            &quote!(
                enum E {}
            ),
            &mut errors
        )
        .is_none());
        let item: ItemStruct = syn::parse2(quote!(
            struct S<'a, T>(&'a T);
        ))
        .unwrap();
        check_generics(&item, &mut errors);
        assert_eq!(errors.messages().len(), 3);
    }
}
