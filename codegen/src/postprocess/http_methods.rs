//! Sends operations whose HTTP method `reqwest::Client` has no shorthand for through
//! `request(Method::X, url)`.
//!
//! Progenitor builds every request as `client.client.<method>(url)`. reqwest has
//! `get`, `post`, `put`, `patch`, `delete` and `head`, but no `options` or `trace`, so a
//! spec with an `OPTIONS` operation (the 2025-10-30 spec has `OPTIONS /upload-image/{tenantId}`)
//! generated code that did not compile. Lost: nothing; the request is the same.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::quote;

/// The methods progenitor may emit that `reqwest::Client` has no method for, with the
/// `reqwest::Method` constant that names each.
pub const WITHOUT_SHORTHAND: &[(&str, &str)] = &[("options", "OPTIONS"), ("trace", "TRACE")];

/// Applies the pass to progenitor's whole output.
pub fn apply(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        match (&trees[i], trees.get(i + 1), trees.get(i + 2)) {
            (TokenTree::Ident(method), Some(TokenTree::Group(args)), _)
                if args.delimiter() == Delimiter::Parenthesis
                    && after_client_client(&out)
                    && constant(method).is_some() =>
            {
                let constant = Ident::new(constant(method).unwrap_or_default(), Span::call_site());
                let url = args.stream();
                out.push(TokenTree::Ident(Ident::new("request", method.span())));
                out.push(TokenTree::Group(Group::new(
                    Delimiter::Parenthesis,
                    quote!(::reqwest::Method::#constant, #url),
                )));
                i += 2;
            }
            (TokenTree::Group(group), _, _) => {
                let mut inner = Group::new(group.delimiter(), apply(group.stream()));
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
                i += 1;
            }
            (other, _, _) => {
                out.push(other.clone());
                i += 1;
            }
        }
    }
    out.into_iter().collect()
}

fn constant(method: &Ident) -> Option<&'static str> {
    WITHOUT_SHORTHAND
        .iter()
        .find(|(name, _)| method == name)
        .map(|(_, constant)| *constant)
}

/// Whether the tokens so far end with `client . client .`, progenitor's receiver.
fn after_client_client(out: &[TokenTree]) -> bool {
    let dot = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if p.as_char() == '.');
    let client = |t: &TokenTree| matches!(t, TokenTree::Ident(i) if i == "client");
    matches!(out, [.., a, b, c, d] if client(a) && dot(b) && client(c) && dot(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_trace_become_generic_requests_at_any_depth() {
        let out = apply(quote!(
            fn f() {
                let r = client.client.options(url).header(A, B);
                {
                    let t = client.client.trace(format!("{}", x));
                }
            }
        ));
        assert_eq!(
            out.to_string(),
            quote!(
                fn f() {
                    let r = client
                        .client
                        .request(::reqwest::Method::OPTIONS, url)
                        .header(A, B);
                    {
                        let t = client
                            .client
                            .request(::reqwest::Method::TRACE, format!("{}", x));
                    }
                }
            )
            .to_string()
        );
    }

    #[test]
    fn shorthand_methods_and_other_receivers_are_left_alone() {
        let input = quote!(
            fn f() {
                client.client.get(url);
                client.client.head(url);
                settings.options(x);
                self.options(y);
            }
        );
        assert_eq!(apply(input.clone()).to_string(), input.to_string());
    }
}
