//! Derives `Deserialize` only on the types a response can contain.
//!
//! typify derives `Serialize` and `Deserialize` on every type. `Deserialize` is by far the
//! costliest derive (about 80% of the generated types' compile time) and a client never
//! decodes what only goes into requests (bodies, query enums). Lost: decoding request
//! types from JSON, which the mock server needs (it keeps every derive) and a client does
//! not. Every type keeps `Serialize`: responses too, for whoever stores or forwards them.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenTree;
use quote::ToTokens;

use super::{module_items, remove_derive};

/// Removes `Deserialize` from the derives of every type of `types` that no response type
/// contains, transitively; `responses` are the operations' response types and the names
/// of the hand-written operations' ones. Returns how many types keep it.
pub fn keep_for_responses<'t>(
    file: &mut syn::File,
    responses: impl IntoIterator<Item = &'t syn::Type>,
    hand_written: impl IntoIterator<Item = String>,
) -> Result<usize, String> {
    let mut roots: BTreeSet<String> = hand_written.into_iter().collect();
    for response in responses {
        collect_idents(response.to_token_stream(), &mut roots);
    }
    let types = module_items(file, "types").ok_or("progenitor emitted no types module")?;
    let references: BTreeMap<String, BTreeSet<String>> = types
        .iter()
        .filter_map(|item| {
            let (name, body) = match item {
                syn::Item::Struct(s) => (s.ident.to_string(), s.fields.to_token_stream()),
                syn::Item::Enum(e) => (e.ident.to_string(), e.variants.to_token_stream()),
                _ => return None,
            };
            let mut idents = BTreeSet::new();
            collect_idents(body, &mut idents);
            Some((name, idents))
        })
        .collect();
    let mut reachable = BTreeSet::new();
    let mut pending: Vec<&String> = roots
        .iter()
        .filter(|r| references.contains_key(*r))
        .collect();
    while let Some(name) = pending.pop() {
        if reachable.insert(name.clone())
            && let Some(refs) = references.get(name)
        {
            pending.extend(refs.iter().filter(|r| references.contains_key(*r)));
        }
    }
    for item in types.iter_mut() {
        let (name, attrs) = match item {
            syn::Item::Struct(s) => (s.ident.to_string(), &mut s.attrs),
            syn::Item::Enum(e) => (e.ident.to_string(), &mut e.attrs),
            _ => continue,
        };
        if !reachable.contains(&name) {
            attrs
                .iter_mut()
                .for_each(|a| remove_derive(a, "Deserialize"));
        }
    }
    Ok(reachable.len())
}

fn collect_idents(tokens: proc_macro2::TokenStream, out: &mut BTreeSet<String>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => {
                out.insert(ident.to_string());
            }
            TokenTree::Group(group) => collect_idents(group.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_types_a_response_contains_keep_deserialize() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub struct Reply { pub items: Vec<Item>, pub status: Status }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub struct Item { pub kind: Option<Kind> }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub enum Kind { A(Box<Item>), B }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub enum Status { Success }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub struct Body { pub status: Status, pub text: String }
            }
        };
        let reply: syn::Type = syn::parse_quote!(::std::vec::Vec<types::Reply>);
        assert_eq!(keep_for_responses(&mut file, [&reply], []).unwrap(), 4);
        let code = file.to_token_stream().to_string();
        let derives = |name: &str| {
            let at = code
                .find(&format!("struct {name} "))
                .or_else(|| code.find(&format!("enum {name} ")))
                .unwrap();
            code[..at].rsplit("# [derive").next().unwrap().to_string()
        };
        for kept in ["Reply", "Item", "Kind", "Status"] {
            assert!(derives(kept).contains("Deserialize"), "{kept}");
        }
        let body = derives("Body");
        assert!(
            !body.contains("Deserialize") && body.contains("Serialize"),
            "{body}"
        );
    }
}
