//! The `key = value` lists both attributes take, read leniently so that every mistake in one
//! list is reported, not only the first.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Token};

use crate::errors::Errors;

/// The comma-separated items of an attribute's arguments. A list that is not even
/// `key`/`key = value` syntax is one error, and yields nothing.
pub(crate) fn parse_list(args: TokenStream, errors: &mut Errors) -> Vec<Meta> {
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(list) => list.into_iter().collect(),
        Err(error) => {
            errors.push(error);
            Vec::new()
        }
    }
}

/// The key of `meta` as a string, if it is a single identifier.
pub(crate) fn key_of(meta: &Meta) -> Option<String> {
    meta.path()
        .get_ident()
        .map(|ident| syn::ext::IdentExt::unraw(ident).to_string())
}

/// The key of `meta` as written, for messages.
pub(crate) fn path_text(meta: &Meta) -> String {
    meta.path().to_token_stream().to_string().replace(' ', "")
}

/// The value of `key = value`, or an error showing `usage` when `meta` has another form.
pub(crate) fn value_of<'a>(meta: &'a Meta, usage: &str, errors: &mut Errors) -> Option<&'a Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            errors.spanned(meta, format!("expected `{usage}`"));
            None
        }
    }
}

/// `expr` if it is a string literal.
pub(crate) fn as_str(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s),
        _ => None,
    }
}

/// A list of the valid keys for an error message: "`a`, `b` or `c`".
pub(crate) fn one_of(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn lists_keys_for_messages() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }

    #[test]
    fn reads_every_item_of_a_list() {
        let mut errors = Errors::default();
        let list = parse_list(quote!(weight = 3, blocking, tags = ["a"]), &mut errors);
        assert!(errors.is_empty());
        let keys: Vec<_> = list.iter().filter_map(key_of).collect();
        assert_eq!(keys, ["weight", "blocking", "tags"]);
    }

    #[test]
    fn a_malformed_list_is_one_error() {
        let mut errors = Errors::default();
        assert!(parse_list(quote!(weight = ), &mut errors).is_empty());
        assert_eq!(errors.messages().len(), 1);
    }
}
