//! Keeps typify's struct builders (`types::builder::X`) only for the request bodies.
//!
//! With progenitor's builder interface, typify emits a builder for every one of the
//! spec's ~350 types: about half the generated code, and a third of the crate's compile
//! time. A user needs one only where an operation takes it: `.body_map(|b| b.field(..))`
//! on a request body. Lost: `X::builder()` on the types that are never sent (responses
//! and their parts); they are still built with a struct literal or decoded from JSON.
//! The builders kept have `#[inline]` methods, compiled only where a body is built.

use std::collections::BTreeSet;

use quote::ToTokens;

use super::{module_items, type_name};

/// Prunes the builders; returns how many were kept.
pub fn prune(file: &mut syn::File) -> Result<usize, String> {
    let used = used_by_operations(file)?;
    let types = module_items(file, "types").ok_or("progenitor emitted no types module")?;
    for item in types.iter_mut() {
        match item {
            syn::Item::Impl(block) if block.trait_.is_none() => {
                let name = type_name(&block.self_ty).unwrap_or_default();
                if !used.contains(&name) {
                    block
                        .items
                        .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "builder"));
                }
            }
            syn::Item::Mod(m) if m.ident == "builder" => {
                if let Some((_, builders)) = &mut m.content {
                    builders.retain(|b| keep(b, &used));
                    builders.iter_mut().for_each(inline_methods);
                }
            }
            _ => {}
        }
    }
    // Inherent impls left empty by the removal.
    types.retain(
        |item| !matches!(item, syn::Item::Impl(b) if b.trait_.is_none() && b.items.is_empty()),
    );
    Ok(used.len())
}

/// The names `X` of every `types::builder::X` the operation builders mention.
fn used_by_operations(file: &mut syn::File) -> Result<BTreeSet<String>, String> {
    let operations = module_items(file, "builder").ok_or("progenitor emitted no builder module")?;
    let text: String = operations
        .iter()
        .map(|i| i.to_token_stream().to_string())
        .collect();
    Ok(text
        .split("types :: builder :: ")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
        })
        .map(str::to_owned)
        .collect())
}

/// Marks the methods of a builder impl `#[inline]`: compiled where a body is built, not
/// for every body type in every user's build.
fn inline_methods(item: &mut syn::Item) {
    if let syn::Item::Impl(block) = item {
        for method in &mut block.items {
            if let syn::ImplItem::Fn(f) = method {
                f.attrs.push(syn::parse_quote!(#[inline]));
            }
        }
    }
}

/// Whether an item of `types::builder` belongs to a used builder: the struct, and the
/// impls for it or converting it into its type (`impl TryFrom<X> for super::X`).
fn keep(item: &syn::Item, used: &BTreeSet<String>) -> bool {
    match item {
        syn::Item::Struct(s) => used.contains(&s.ident.to_string()),
        syn::Item::Impl(block) => type_name(&block.self_ty).is_some_and(|n| used.contains(&n)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_request_body_builders_remain() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                pub struct Body { pub a: u8 }
                impl Body { pub fn builder() -> builder::Body { Default::default() } }
                pub struct Reply { pub b: u8 }
                impl Reply { pub fn builder() -> builder::Reply { Default::default() } }
                impl From<&Reply> for Reply { fn from(r: &Reply) -> Self { r.clone() } }
                pub mod builder {
                    pub struct Body { a: Result<u8, String> }
                    impl Default for Body { fn default() -> Self { todo!() } }
                    impl TryFrom<Body> for super::Body { type Error = String; fn try_from(b: Body) -> Result<Self, String> { todo!() } }
                    impl From<super::Body> for Body { fn from(b: super::Body) -> Self { todo!() } }
                    pub struct Reply { b: Result<u8, String> }
                    impl Default for Reply { fn default() -> Self { todo!() } }
                    impl TryFrom<Reply> for super::Reply { type Error = String; fn try_from(b: Reply) -> Result<Self, String> { todo!() } }
                }
            }
            pub mod builder {
                impl<'a> Save<'a> {
                    pub fn body_map<F>(mut self, f: F) -> Self where F: FnOnce(types::builder::Body) -> types::builder::Body { self }
                }
            }
        };
        assert_eq!(prune(&mut file).unwrap(), 1);
        let code = file.to_token_stream().to_string();
        assert!(code.contains("impl Body { pub fn builder"));
        assert!(!code.contains("impl Reply {"), "{code}");
        assert!(
            code.contains("impl From < & Reply > for Reply"),
            "trait impls stay"
        );
        assert!(code.contains("pub struct Body { a"));
        assert!(!code.contains("pub struct Reply { b"), "{code}");
        assert_eq!(code.matches("for super :: Body").count(), 1);
        assert!(!code.contains("for super :: Reply"));
    }
}
