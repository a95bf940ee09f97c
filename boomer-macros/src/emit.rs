//! The one place that decides which paths the expansions name, as serde_derive's `dummy.rs`
//! and tokio-macros' `crate_name` do: everything generated goes through the facade's
//! `__private` module, at `::boomer::__private` (the facade's library name, whatever its
//! package is called) or, with `crate = "<path>"`, at `<path>::__private`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Meta, Path};

use crate::args;
use crate::errors::Errors;

/// The key every attribute takes to name the facade by another path.
pub(crate) const CRATE_KEY: &str = "crate";

/// The facade's `__private` module, interpolated as `#private::Ctx`.
#[derive(Clone)]
pub(crate) struct Private {
    path: TokenStream,
    /// Whether the path is the default one, which [`at`](Self::at) may respan.
    default: bool,
}

impl Private {
    /// `<krate>::__private`, or `::boomer::__private` without a `crate = "..."` key.
    pub(crate) fn new(krate: Option<&Path>) -> Self {
        match krate {
            Some(path) => Private {
                path: quote!(#path::__private),
                default: false,
            },
            None => Private {
                path: quote!(::boomer::__private),
                default: true,
            },
        }
    }

    /// The path for a `quote_spanned!(span=> ...)`: the default path spanned at `span`, so
    /// that a trait error there points at the user's tokens alone. A path given with
    /// `crate` keeps the span of its string instead: one that does not resolve is then
    /// reported once, on the string, rather than at every place the expansion names it.
    pub(crate) fn at(&self, span: Span) -> Private {
        if !self.default {
            return self.clone();
        }
        let path = self
            .path
            .clone()
            .into_iter()
            .map(|mut token| {
                token.set_span(span);
                token
            })
            .collect();
        Private {
            path,
            default: true,
        }
    }
}

impl Default for Private {
    fn default() -> Self {
        Private::new(None)
    }
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.path.to_tokens(tokens);
    }
}

/// `crate = "<path>"`: the path the facade is reachable by, as a string literal (as with
/// tokio's and serde's `crate` keys). The path keeps the literal's span, so a path that
/// does not resolve is reported on the user's string.
pub(crate) fn parse_crate(meta: &Meta, errors: &mut Errors) -> Option<Path> {
    let example = "crate = \"boomer\"";
    let value = args::value_of(meta, example, errors)?;
    let Some(lit) = args::as_str(value) else {
        let message = format!(
            "`crate` must be the path of the boomer crate in a string literal, like `{example}`"
        );
        errors.spanned(value, message);
        return None;
    };
    match lit.parse_with(Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            let message = format!(
                "`crate` must be a path, like `crate = \"boomer\"` or `crate = \"::my::boomer\"`; \
                 `{}` is not one",
                lit.value()
            );
            errors.spanned(lit, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parsed(args: TokenStream) -> (Option<String>, Vec<String>) {
        let mut errors = Errors::default();
        let list = args::parse_list(args, &mut errors);
        assert_eq!(list.len(), 1);
        let path = parse_crate(&list[0], &mut errors);
        let text = path.map(|p| Private::new(Some(&p)).to_token_stream().to_string());
        (text, errors.messages())
    }

    #[test]
    fn the_default_is_the_facades_library_name() {
        assert_eq!(
            Private::default().to_token_stream().to_string(),
            ":: boomer :: __private"
        );
    }

    #[test]
    fn reads_a_path_in_a_string() {
        let (path, errors) = parsed(quote!(crate = "renamed"));
        assert_eq!(path.as_deref(), Some("renamed :: __private"));
        assert!(errors.is_empty());
        let (path, _) = parsed(quote!(crate = "::my::boomer"));
        assert_eq!(path.as_deref(), Some(":: my :: boomer :: __private"));
        let (path, _) = parsed(quote!(crate = "crate::reexported::boomer"));
        assert_eq!(
            path.as_deref(),
            Some("crate :: reexported :: boomer :: __private")
        );
    }

    #[test]
    fn rejects_what_is_not_a_path_in_a_string() {
        let (path, errors) = parsed(quote!(crate = renamed));
        assert!(path.is_none());
        assert_eq!(
            errors,
            [
                "`crate` must be the path of the boomer crate in a string literal, like \
              `crate = \"boomer\"`"
            ]
        );
        let (path, errors) = parsed(quote!(crate = "my boomer"));
        assert!(path.is_none());
        assert_eq!(
            errors,
            [
                "`crate` must be a path, like `crate = \"boomer\"` or `crate = \"::my::boomer\"`; \
              `my boomer` is not one"
            ]
        );
        assert_eq!(parsed(quote!(crate = "a::<T>")).1.len(), 1);
        assert_eq!(parsed(quote!(crate)).1, ["expected `crate = \"boomer\"`"]);
    }
}
