//! What is done to progenitor's output before it is written: each module one pass, with
//! tests on small token inputs.

pub mod builders;
pub mod derives;
pub mod lean_deserialize;
pub mod reserved_idents;
pub mod send;
pub mod uninhabited;

/// The items of the inline module `name` at the top of `file`.
pub(crate) fn module_items<'f>(
    file: &'f mut syn::File,
    name: &str,
) -> Option<&'f mut Vec<syn::Item>> {
    file.items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    })
}

/// The last segment of a type's path (`X` for `super::X<'a>`).
pub(crate) fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
