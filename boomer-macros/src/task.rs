//! `#[boomer::task]`: parse the keys and the fn, check them, register a `TaskRegistration`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, LitStr, Meta, ReturnType, Signature, Type};

use crate::args::{self, as_str, key_of, one_of, set_once, value_of};
use crate::errors::Errors;
use crate::sig;

const ATTR: &str = "boomer::task";
const KEYS: &[&str] = &["weight", "name", "tags", "blocking"];

/// Entry point of `#[boomer::task(...)]`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = TaskArgs::parse(args, &mut errors);
    let Some(func) = sig::parse_fn(&item, ATTR, &mut errors) else {
        return errors.with_item(item);
    };
    let task = Task::check(&func.sig, args, &mut errors);
    if !errors.is_empty() {
        return errors.with_item(item);
    }
    let registration = task.expand();
    quote!(#item #registration)
}

/// The keys of `#[boomer::task(...)]`, each checked on its own.
#[derive(Default)]
struct TaskArgs {
    weight: Option<u32>,
    name: Option<String>,
    tags: Vec<String>,
    /// The `blocking` flag itself, to point at it.
    blocking: Option<Meta>,
}

impl TaskArgs {
    fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut seen: [Option<Meta>; 4] = Default::default();
        for meta in args::parse_list(args, errors) {
            let key = key_of(&meta);
            match KEYS.iter().position(|k| Some(*k) == key.as_deref()) {
                Some(i) => set_once(&mut seen[i], meta.clone(), &meta, errors),
                None => errors.spanned(
                    meta.path(),
                    format!(
                        "unknown key `{}`; expected one of {}",
                        args::path_text(&meta),
                        one_of(KEYS)
                    ),
                ),
            }
        }
        let [weight, name, tags, blocking] = seen;
        TaskArgs {
            weight: weight.and_then(|m| parse_weight(&m, errors)),
            name: name.and_then(|m| parse_name(&m, errors)),
            tags: tags.map(|m| parse_tags(&m, errors)).unwrap_or_default(),
            blocking: blocking.filter(|m| check_flag(m, errors)),
        }
    }
}

fn parse_weight(meta: &Meta, errors: &mut Errors) -> Option<u32> {
    let value = value_of(meta, "weight = <positive integer>", errors)?;
    let int = match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int,
        _ => {
            let message = "`weight` must be a positive integer literal, like `weight = 10`";
            errors.spanned(value, message);
            return None;
        }
    };
    match int.base10_parse::<u32>() {
        Ok(0) => errors.spanned(
            int,
            "`weight` must be at least 1: a task of weight 0 would never run",
        ),
        Ok(weight) => return Some(weight),
        Err(_) => errors.spanned(int, "`weight` must fit in a `u32`"),
    }
    None
}

fn parse_name(meta: &Meta, errors: &mut Errors) -> Option<String> {
    let value = value_of(meta, "name = \"...\"", errors)?;
    let not_a_str = "`name` must be a string literal, like `name = \"login\"`";
    non_empty_str(value, not_a_str, "`name` must not be empty", errors)
}

fn parse_tags(meta: &Meta, errors: &mut Errors) -> Vec<String> {
    let usage = "`tags` must be a list of string literals, like `tags = [\"auth\", \"slow\"]`";
    let Some(value) = value_of(meta, "tags = [\"...\", ...]", errors) else {
        return Vec::new();
    };
    let Expr::Array(list) = value else {
        errors.spanned(value, usage);
        return Vec::new();
    };
    list.elems
        .iter()
        .filter_map(|tag| non_empty_str(tag, usage, "a tag must not be empty", errors))
        .collect()
}

/// The text of a string literal that is not empty.
fn non_empty_str(expr: &Expr, not_a_str: &str, empty: &str, errors: &mut Errors) -> Option<String> {
    let Some(lit) = as_str(expr) else {
        errors.spanned(expr, not_a_str);
        return None;
    };
    let text = lit.value();
    if text.is_empty() {
        errors.spanned(lit, empty);
        return None;
    }
    Some(text)
}

fn check_flag(meta: &Meta, errors: &mut Errors) -> bool {
    if matches!(meta, Meta::Path(_)) {
        return true;
    }
    errors.spanned(
        meta,
        "`blocking` is a flag and takes no value: write `blocking`",
    );
    false
}

/// A task that passed every check.
struct Task<'a> {
    sig: &'a Signature,
    name: String,
    weight: u32,
    tags: Vec<String>,
    run: Run,
    /// The type of the `&mut Ctx` parameter, if the fn takes one.
    ctx: Option<&'a Type>,
}

/// Which `TaskFn` variant runs the task.
#[derive(Clone, Copy)]
enum Run {
    Sync,
    Blocking,
    Async,
}

impl<'a> Task<'a> {
    fn check(sig: &'a Signature, args: TaskArgs, errors: &mut Errors) -> Self {
        sig::check_callable(sig, ATTR, errors);
        let ctx = ctx_param(sig, errors);
        let run = match (&args.blocking, sig.asyncness, ctx) {
            (None, None, _) => Run::Sync,
            (None, Some(_), _) => Run::Async,
            (Some(flag), Some(_), _) => {
                let message = "a `blocking` task must be a plain `fn`: an `async fn` yields \
                               instead of blocking, so remove `blocking` (or `async`)";
                errors.spanned(flag, message);
                Run::Async
            }
            (Some(_), None, Some(ty)) => {
                let message = "a `blocking` task takes no parameter: the `Ctx` stays with its \
                               user and cannot be lent to the blocking pool";
                errors.spanned(ty, message);
                Run::Blocking
            }
            (Some(_), None, None) => Run::Blocking,
        };
        Task {
            sig,
            name: args.name.unwrap_or_else(|| fn_name(sig)),
            weight: args.weight.unwrap_or(1),
            tags: args.tags,
            run,
            ctx,
        }
    }

    /// The `const _` block registering the task.
    fn expand(&self) -> TokenStream {
        let wrapper = self.wrapper();
        let variant = match self.run {
            Run::Sync => quote!(Sync),
            Run::Blocking => quote!(Blocking),
            Run::Async => quote!(Async),
        };
        let name = LitStr::new(&self.name, Span::call_site());
        let weight = self.weight;
        let tags = &self.tags;
        quote! {
            const _: () = {
                #wrapper
                ::boomer::__private::inventory::submit! {
                    ::boomer::__private::TaskRegistration {
                        name: #name,
                        weight: #weight,
                        tags: &[#(#tags),*],
                        run: ::boomer::__private::TaskFn::#variant(__boomer_run),
                        module: ::core::module_path!(),
                    }
                }
            };
        }
    }

    /// `fn __boomer_run` with the signature of the `TaskFn` variant, calling the user's fn.
    /// The argument and the return value are checked with the user's spans, so a wrong
    /// `Ctx` or return type is reported on their code.
    fn wrapper(&self) -> TokenStream {
        let user_fn = &self.sig.ident;
        let ctx = Ident::new(
            "__boomer_ctx",
            self.ctx.map_or_else(Span::call_site, Spanned::span),
        );
        let (ctx_param, arg) = match self.ctx {
            Some(_) => (quote!(#ctx), quote!(#ctx)),
            None => (quote!(_), quote!()),
        };
        let ret_span = match &self.sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => self.sig.ident.span(),
        };
        let out = Ident::new("__boomer_out", ret_span);
        let outcome =
            quote_spanned!(ret_span=> ::boomer::__private::IntoOutcome::into_outcome(#out));
        match self.run {
            Run::Sync => quote! {
                fn __boomer_run(
                    #ctx_param: &mut ::boomer::__private::Ctx,
                ) -> ::boomer::__private::Outcome {
                    let #out = #user_fn(#arg);
                    #outcome
                }
            },
            Run::Blocking => quote! {
                fn __boomer_run() -> ::boomer::__private::Outcome {
                    let #out = #user_fn();
                    #outcome
                }
            },
            Run::Async => {
                // The span makes "future cannot be sent between threads safely" point at the
                // user's fn rather than at the attribute.
                let pin = quote_spanned!(user_fn.span()=> ::boomer::__private::Box::pin);
                quote! {
                    fn __boomer_run<'a>(
                        #ctx_param: &'a mut ::boomer::__private::Ctx,
                    ) -> ::boomer::__private::BoxFuture<'a, ::boomer::__private::Outcome> {
                        #pin(async move {
                            let #out = #user_fn(#arg).await;
                            #outcome
                        })
                    }
                }
            }
        }
    }
}

/// The type of the `&mut Ctx` parameter, if any; anything else is an error.
fn ctx_param<'a>(sig: &'a Signature, errors: &mut Errors) -> Option<&'a Type> {
    let message = "a task takes no parameter or one `&mut boomer::Ctx`";
    match sig::params(sig).as_slice() {
        [] => None,
        [param] => match sig::referent(&param.ty, true) {
            Some(ty) if sig::is_named(ty, "Ctx") => Some(&param.ty),
            _ => {
                errors.spanned(&param.ty, message);
                None
            }
        },
        [_, extra @ ..] => {
            errors.spanned(quote!(#(#extra)*), message);
            None
        }
    }
}

/// The fn's name as Locust shows it: `r#type` is `type`.
fn fn_name(sig: &Signature) -> String {
    syn::ext::IdentExt::unraw(&sig.ident).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg_errors(args: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        TaskArgs::parse(args, &mut errors);
        errors.messages()
    }

    #[test]
    fn reads_every_key() {
        let mut errors = Errors::default();
        let args = TaskArgs::parse(
            quote!(weight = 3, name = "login", tags = ["a", "b"], blocking),
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(args.weight, Some(3));
        assert_eq!(args.name.as_deref(), Some("login"));
        assert_eq!(args.tags, ["a", "b"]);
        assert!(args.blocking.is_some());
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let errors = arg_errors(quote!(
            weight = 0,
            weight = 2,
            name = "",
            tags = "a",
            blocking = true,
            wieght = 1
        ));
        assert_eq!(
            errors,
            [
                "`weight` specified more than once",
                "unknown key `wieght`; expected one of `weight`, `name`, `tags` or `blocking`",
                "`weight` must be at least 1: a task of weight 0 would never run",
                "`name` must not be empty",
                "`tags` must be a list of string literals, like `tags = [\"auth\", \"slow\"]`",
                "`blocking` is a flag and takes no value: write `blocking`",
            ]
        );
    }

    #[test]
    fn weight_must_be_a_u32_literal() {
        assert_eq!(arg_errors(quote!(weight = 4294967296)).len(), 1);
        assert_eq!(arg_errors(quote!(weight = -1)).len(), 1);
        assert_eq!(arg_errors(quote!(weight = W)).len(), 1);
        assert!(arg_errors(quote!(weight = 7u32)).is_empty());
    }

    #[test]
    fn picks_the_task_fn_variant() {
        let cases = [
            (
                quote!(
                    fn f() {}
                ),
                quote!(),
                "Sync",
            ),
            (
                quote!(
                    fn f(c: &mut Ctx) {}
                ),
                quote!(),
                "Sync",
            ),
            (
                quote!(
                    async fn f(c: &mut boomer::Ctx) {}
                ),
                quote!(),
                "Async",
            ),
            (
                quote!(
                    fn f() {}
                ),
                quote!(blocking),
                "Blocking",
            ),
        ];
        for (item, args, variant) in cases {
            let out = expand(args, item).to_string();
            assert!(out.contains(&format!("TaskFn :: {variant}")), "{out}");
        }
    }

    #[test]
    fn the_name_defaults_to_the_fn_name() {
        let out = expand(
            quote!(),
            quote!(
                fn r#type() {}
            ),
        )
        .to_string();
        assert!(out.contains("name : \"type\""), "{out}");
    }
}
