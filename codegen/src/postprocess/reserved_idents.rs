//! Escapes identifiers reserved since edition 2024 (`gen`, in typify's `JsonSchema`
//! impls) as raw identifiers, so the generated code compiles in an edition-2024 crate.

use proc_macro2::{Group, Ident, TokenStream, TokenTree};

/// Applies the pass.
pub fn escape(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "gen" => {
                TokenTree::Ident(Ident::new_raw("gen", ident.span()))
            }
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), escape(group.stream()));
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn gen_becomes_raw_at_any_depth() {
        let out = escape(quote!(fn f(gen: u8) { let x = { gen + general }; }));
        assert_eq!(
            out.to_string(),
            quote!(
                fn f(r#gen: u8) {
                    let x = { r#gen + general };
                }
            )
            .to_string()
        );
    }
}
