//! The `key = value` lists the attributes take, read leniently so that every mistake in one
//! list is reported, not only the first, and the values that several attributes share.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Meta, Token};

use crate::emit;
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

/// Calls `parse` with each item of `list` whose key is one of `keys` or `crate` (which
/// every attribute takes); a key given twice and an unknown key are errors. The latter
/// lists `keys` only: `crate` is for code that re-exports boomer, not a key to suggest.
pub(crate) fn each_key(
    list: Vec<Meta>,
    keys: &[&str],
    errors: &mut Errors,
    mut parse: impl FnMut(&str, &Meta, &mut Errors),
) {
    let mut seen = Vec::new();
    for meta in list {
        let key = key_of(&meta).unwrap_or_default();
        if seen.contains(&key) {
            errors.spanned(meta.path(), format!("`{key}` specified more than once"));
        } else if keys.contains(&key.as_str()) || key == emit::CRATE_KEY {
            parse(&key, &meta, errors);
            seen.push(key);
        } else {
            let message = format!(
                "unknown key `{}`; expected one of {}",
                path_text(&meta),
                one_of(keys)
            );
            errors.spanned(meta.path(), message);
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

/// `weight = <integer>`: at least 1, since an item of weight 0 would never be picked.
/// `what` names the item ("task", "class") in the message.
pub(crate) fn parse_weight(meta: &Meta, what: &str, errors: &mut Errors) -> Option<u32> {
    let (weight, lit) = parse_u32(meta, "positive", "weight = 10", errors)?;
    if weight == 0 {
        let message = format!("`weight` must be at least 1: a {what} of weight 0 would never run");
        errors.spanned(lit, message);
        return None;
    }
    Some(weight)
}

/// `key = <integer>` that fits in a `u32`, with the literal for further checks. `kind`
/// ("positive") and `example` (`weight = 10`) make up the message when it is not one.
pub(crate) fn parse_u32<'a>(
    meta: &'a Meta,
    kind: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<(u32, &'a LitInt)> {
    let key = path_text(meta);
    let not_an_int = format!("`{key}` must be a {kind} integer literal, like `{example}`");
    let value = value_of(meta, &format!("{key} = <{kind} integer>"), errors)?;
    let int = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if !int.base10_digits().starts_with('-') => int,
        _ => {
            errors.spanned(value, not_an_int);
            return None;
        }
    };
    match int.base10_parse::<u32>() {
        Ok(n) => Some((n, int)),
        Err(_) => {
            errors.spanned(int, format!("`{key}` must fit in a `u32`"));
            None
        }
    }
}

/// `key = "<text>"`, not empty; `example` shows the right form in the message.
pub(crate) fn parse_str(meta: &Meta, example: &str, errors: &mut Errors) -> Option<String> {
    let key = path_text(meta);
    let value = value_of(meta, &format!("{key} = \"...\""), errors)?;
    let not_a_str = format!("`{key}` must be a string literal, like `{example}`");
    non_empty_str(
        value,
        &not_a_str,
        &format!("`{key}` must not be empty"),
        errors,
    )
}

/// `tags = ["<tag>", ...]`, each tag a non-empty string.
pub(crate) fn parse_tags(meta: &Meta, errors: &mut Errors) -> Vec<String> {
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

/// Whether `meta` is a flag written alone (`blocking`, `sequential`); a value is an error.
pub(crate) fn check_flag(meta: &Meta, errors: &mut Errors) -> bool {
    if matches!(meta, Meta::Path(_)) {
        return true;
    }
    let key = path_text(meta);
    errors.spanned(
        meta,
        format!("`{key}` is a flag and takes no value: write `{key}`"),
    );
    false
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
