//! Collecting every error of one item, and what to emit when there are some.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

/// Every error found in one annotated item, so that the user sees them all in one build
/// instead of fixing them one compile at a time.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records `error`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records `message`, pointing at `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing went wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// The user's item, unchanged, next to the errors: the fn keeps existing, so IDEs keep
    /// completing it and no "cannot find function" errors pile on top of ours.
    pub(crate) fn with_item(self, item: TokenStream) -> TokenStream {
        let errors = self.combined.map(|e| e.to_compile_error());
        quote!(#item #errors)
    }

    /// The messages, in the order they were found.
    #[cfg(test)]
    pub(crate) fn messages(self) -> Vec<String> {
        self.combined
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect()
    }
}
