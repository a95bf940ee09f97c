//! The annotated fn, and the checks both attributes make on its signature.

use proc_macro2::{Group, Span, TokenStream};
use quote::quote_spanned;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, GenericParam, PatType, Signature, Type, Visibility};

use crate::emit::Private;
use crate::errors::Errors;

/// An annotated fn. The body stays unparsed: the macros never look into it, and a body
/// using syntax newer than `syn` must not break them.
pub(crate) struct FnItem {
    pub(crate) sig: Signature,
}

impl Parse for FnItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let sig = input.parse()?;
        input.parse::<Group>()?;
        Ok(FnItem { sig })
    }
}

/// `item` as a fn, or an error at its first token that is not part of a fn signature
/// (`struct`, `impl`, ...).
pub(crate) fn parse_fn(item: &TokenStream, attr: &str, errors: &mut Errors) -> Option<FnItem> {
    match syn::parse2::<FnItem>(item.clone()) {
        Ok(item) => Some(item),
        Err(error) => {
            let message = format!("`#[{attr}]` goes on a `fn` or an `async fn`");
            errors.push(syn::Error::new(error.span(), message));
            None
        }
    }
}

/// Checks that boomer can call the fn by its name alone, with arguments it picks: no
/// `self`, no type or const parameters, not `unsafe`.
pub(crate) fn check_callable(sig: &Signature, attr: &str, errors: &mut Errors) {
    if let Some(receiver) = sig.receiver() {
        errors.spanned(
            receiver,
            format!("`#[{attr}]` goes on a free fn, not a method: boomer has no `self` to pass"),
        );
    }
    for param in &sig.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            errors.spanned(
                param,
                format!(
                    "`#[{attr}]` fns cannot have type or const parameters: boomer calls `{}` \
                     without any",
                    sig.ident
                ),
            );
        }
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(
            unsafety,
            format!("`#[{attr}]` fns cannot be `unsafe`: boomer would call it from safe code"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, format!("`#[{attr}]` fns cannot be variadic"));
    }
}

/// The fn's name as boomer shows it: `r#type` is `type`.
pub(crate) fn fn_name(sig: &Signature) -> String {
    syn::ext::IdentExt::unraw(&sig.ident).to_string()
}

/// The typed parameters (a `self` receiver, if any, is reported by [`check_callable`]).
pub(crate) fn params(sig: &Signature) -> Vec<&PatType> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat) => Some(pat),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The type behind `&mut T` (when `mutable`) or `&T` (otherwise), if `ty` is one.
pub(crate) fn referent(ty: &Type, mutable: bool) -> Option<&Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() == mutable => Some(&r.elem),
        Type::Paren(p) => referent(&p.elem, mutable),
        _ => None,
    }
}

/// `Box::pin(async move { #body })`, spanned so that "future cannot be sent between threads
/// safely" points at the user's `async fn` rather than at the attribute.
pub(crate) fn boxed_future(sig: &Signature, private: &Private, body: TokenStream) -> TokenStream {
    let span = sig.asyncness.map_or_else(|| sig.ident.span(), |a| a.span);
    let private = private.at(span);
    quote_spanned!(span=> #private::Box::pin(async move { #body }))
}

/// Where a type-check error about `ty` should point: at the name of the type (`Ctx` in
/// `&mut boomer::Ctx`), as stable Rust cannot join spans to underline the whole type.
pub(crate) fn name_span(ty: &Type) -> Span {
    match ty {
        Type::Reference(r) => name_span(&r.elem),
        Type::Paren(p) => name_span(&p.elem),
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| ty.span(), |s| s.ident.span()),
        _ => ty.span(),
    }
}

/// Whether `ty` is a path whose last segment is `name` (`Ctx`, `boomer::Ctx`, ...).
pub(crate) fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == name && s.arguments.is_none()),
        Type::Paren(p) => is_named(&p.elem, name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn sig(tokens: TokenStream) -> Signature {
        syn::parse2::<FnItem>(tokens).unwrap().sig
    }

    fn callable_errors(tokens: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        check_callable(&sig(tokens), "boomer::task", &mut errors);
        errors.messages()
    }

    #[test]
    fn reads_a_fn_without_parsing_its_body() {
        let s = sig(quote!(#[doc = "x"] pub(crate) async fn f<'a>(c: &'a mut Ctx) { yeet 1 }));
        assert_eq!(s.ident, "f");
        assert!(s.asyncness.is_some());
    }

    #[test]
    fn only_fns_are_accepted() {
        let mut errors = Errors::default();
        assert!(parse_fn(
            &quote!(
                struct S;
            ),
            "boomer::task",
            &mut errors
        )
        .is_none());
        assert_eq!(
            errors.messages(),
            ["`#[boomer::task]` goes on a `fn` or an `async fn`"]
        );
    }

    #[test]
    fn lifetimes_are_fine_but_not_generics() {
        assert!(callable_errors(quote!(
            fn f<'a>(c: &'a mut Ctx) {}
        ))
        .is_empty());
        assert_eq!(
            callable_errors(quote!(
                fn f<T, const N: usize>() {}
            ))
            .len(),
            2
        );
        assert_eq!(
            callable_errors(quote!(
                unsafe fn f(&self) {}
            ))
            .len(),
            2
        );
    }

    #[test]
    fn recognises_ctx_references() {
        let ty: Type = syn::parse2(quote!(&mut boomer::Ctx)).unwrap();
        assert!(referent(&ty, true).is_some_and(|t| is_named(t, "Ctx")));
        let ty: Type = syn::parse2(quote!(&Ctx)).unwrap();
        assert!(referent(&ty, true).is_none());
        let ty: Type = syn::parse2(quote!(&mut MyCtx)).unwrap();
        assert!(!referent(&ty, true).is_some_and(|t| is_named(t, "Ctx")));
    }
}
