//! What is done to progenitor's output before it is written: each module one pass (what
//! goes wrong without it, what it loses), with tests on small token inputs.

pub mod any_of;
pub mod builders;
pub mod derives;
pub mod http_methods;
pub mod lean_deserialize;
pub mod open_enums;
pub mod reserved_idents;
pub mod send;
pub mod uninhabited;

/// The items of the inline module `name` at the top of `file`, to read.
pub(crate) fn module<'f>(file: &'f syn::File, name: &str) -> Option<&'f [syn::Item]> {
    file.items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, items)| &items[..]),
        _ => None,
    })
}

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

/// The paths of a `#[derive(..)]` attribute; `None` for any other attribute.
pub(crate) fn derive_paths(attr: &syn::Attribute) -> Option<Vec<syn::Path>> {
    if !attr.path().is_ident("derive") {
        return None;
    }
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .ok()
        .map(|paths| paths.into_iter().collect())
}

/// Whether the attributes derive `Deserialize`.
pub(crate) fn derives_deserialize(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .filter_map(derive_paths)
        .any(|paths| paths.iter().any(|p| names(p, "Deserialize")))
}

/// Whether a derive path names `trait_name` (`::serde::Deserialize` names `Deserialize`).
pub(crate) fn names(path: &syn::Path, trait_name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == trait_name)
}

/// Removes `trait_name` from a `#[derive(..)]` attribute; leaves any other as it is.
pub(crate) fn remove_derive(attr: &mut syn::Attribute, trait_name: &str) {
    if let Some(paths) = derive_paths(attr) {
        let kept = paths.into_iter().filter(|p| !names(p, trait_name));
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
}

/// The last segment of a type's path (`X` for `super::X<'a>`).
pub(crate) fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
