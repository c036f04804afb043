//! Makes a body that matches none of an `anyOf`'s branches a decode error.
//!
//! typify renders an `anyOf` whose branches may overlap (it cannot prove that at most one
//! matches) as a struct of flattened optional parts, one per branch:
//! `struct X { #[serde(flatten)] subtype_0: Option<A>, #[serde(flatten)] subtype_1: Option<B> }`.
//! serde's derive turns a branch that does not decode into `None`, so *any* JSON object
//! decodes, as a value with every part `None`: `postRemoveComment` took `{}` as a success
//! although its spec requires `status` and `action`.
//!
//! Such a struct (every field a flattened `Option`) loses its derived `Deserialize` for
//! one that calls the crate's `response::any_of` with serde's derive kept on a private
//! copy of the fields (`__Parts`):
//! - the body is read once into a `serde_json::Value`, then decoded as serde's derive did
//!   (the parts in order, each claiming the keys it knows): every body that decoded with
//!   a part `Some` decodes to the very same value;
//! - when no part matched that way (a later branch can miss keys an earlier one claimed
//!   and then failed on), each branch is tried alone on the whole body; the first that
//!   decodes is the value's only `Some` part;
//! - when none does, the error names each branch and why it failed (`matches none of
//!   the spec's anyOf branches: DeleteCommentResult (missing field ..); ..`), which the
//!   client reports as `Error::Decode` like any other wrong shape.
//!
//! The type's fields, its other derives (`Default` included) and its encoding are
//! unchanged; its documentation gains a paragraph saying how it decodes. Lost: the value
//! with every part `None` can no longer be decoded (it was never a valid answer), and
//! decoding such a type holds the body's JSON tree in memory once more than the derive
//! did (one such type in today's spec, `PostRemoveCommentApiResponse`, a two-field answer).

use proc_macro2::TokenStream;
use quote::quote;

use super::{derives_deserialize, module_items, remove_derive, type_name};

/// Rewrites every struct of `types` made only of flattened optional parts that derives
/// `Deserialize`; returns their names.
pub fn apply(file: &mut syn::File) -> Result<Vec<String>, String> {
    let types = module_items(file, "types").ok_or("progenitor emitted no types module")?;
    let mut impls = Vec::new();
    let mut rewritten = Vec::new();
    for item in types.iter_mut() {
        let syn::Item::Struct(strukt) = item else {
            continue;
        };
        let Some(checked) = checked_impl(strukt) else {
            continue;
        };
        strukt
            .attrs
            .iter_mut()
            .for_each(|a| remove_derive(a, "Deserialize"));
        strukt.attrs.push(syn::parse_quote!(#[doc = ""]));
        strukt.attrs.push(syn::parse_quote!(#[doc = #DOC]));
        rewritten.push(strukt.ident.to_string());
        impls.push(syn::Item::Verbatim(checked));
    }
    types.extend(impls);
    Ok(rewritten)
}

/// What the rewritten type's documentation says about decoding.
const DOC: &str = "The spec's `anyOf`: each `subtype_N` is the branch of that \
    number, `Some` when the body matched it. A body that matches none of the branches \
    is a decode error, never a value with every part `None`.";

/// The names of the structs of `types` that any JSON object decodes into: every field a
/// flattened `Option`, with serde's derived `Deserialize` (what [`apply`] rewrites).
pub fn find(file: &syn::File) -> Vec<String> {
    super::module(file, "types")
        .into_iter()
        .flatten()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if derives_deserialize(&s.attrs) && parts(s).is_some() => {
                Some(s.ident.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The fields of a struct whose every field is a flattened `Option`, with the type each
/// `Option` holds; `None` for any other struct.
fn parts(strukt: &syn::ItemStruct) -> Option<Vec<(&syn::Field, &syn::Type)>> {
    let syn::Fields::Named(named) = &strukt.fields else {
        return None;
    };
    if named.named.is_empty() || !strukt.generics.params.is_empty() {
        return None;
    }
    named
        .named
        .iter()
        .map(|f| Some((f, option_of(&f.ty)?)).filter(|_| is_flattened(f)))
        .collect()
}

/// The checked impl of a struct [`parts`] accepts that derives `Deserialize`.
fn checked_impl(strukt: &syn::ItemStruct) -> Option<TokenStream> {
    if !derives_deserialize(&strukt.attrs) {
        return None;
    }
    let parts = parts(strukt)?;
    let name = &strukt.ident;
    // `__Parts`: the derived decode, as it was before the check, on a private copy.
    let container: Vec<&syn::Attribute> = serde_attrs(&strukt.attrs).collect();
    let idents: Vec<&syn::Ident> = parts.iter().filter_map(|(f, _)| f.ident.as_ref()).collect();
    let fields = parts.iter().map(|(f, _)| {
        let attrs = serde_attrs(&f.attrs);
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#(#attrs)* #ident: #ty)
    });
    let branches = parts
        .iter()
        .map(|(_, inner)| type_name(inner).unwrap_or_else(|| quote!(#inner).to_string()));
    let last = parts.len() - 1;
    let alone = parts.iter().enumerate().map(|(index, (f, inner))| {
        let ident = &f.ident;
        let others = idents.iter().filter(|i| Some(**i) != f.ident.as_ref());
        // The last branch takes every other index: no arm is unreachable.
        let pattern = match index == last {
            true => quote!(_),
            false => quote!(#index),
        };
        quote! {
            #pattern => <#inner as ::serde::Deserialize>::deserialize(__body).map(|__branch| #name {
                #ident: ::std::option::Option::Some(__branch),
                #(#others: ::std::option::Option::None,)*
            }),
        }
    });
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(
                __deserializer: __D,
            ) -> ::std::result::Result<Self, __D::Error> {
                #[derive(::serde::Deserialize)]
                #(#container)*
                struct __Parts { #(#fields,)* }
                crate::response::any_of(
                    __deserializer,
                    &[#(#branches),*],
                    |__body| {
                        let __parts = <__Parts as ::serde::Deserialize>::deserialize(__body).ok()?;
                        (#(__parts.#idents.is_some())||*)
                            .then_some(#name { #(#idents: __parts.#idents,)* })
                    },
                    |__index, __body| match __index {
                        #(#alone)*
                    },
                )
            }
        }
    })
}

fn serde_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("serde"))
}

/// Whether a field has `#[serde(flatten ..)]`.
fn is_flattened(field: &syn::Field) -> bool {
    serde_attrs(&field.attrs).any(|attr| {
        let mut flatten = false;
        // Every other item is skipped, whatever its shape.
        let _ = attr.parse_nested_meta(|meta| {
            flatten |= meta.path.is_ident("flatten");
            if let Ok(value) = meta.value() {
                value.parse::<syn::Expr>()?;
            }
            Ok(())
        });
        flatten
    })
}

/// `T` for `Option<T>` (any path ending in `Option`).
fn option_of(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last().filter(|s| s.ident == "Option")?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn types(items: TokenStream) -> syn::File {
        syn::parse2(quote!(pub mod types { #items })).unwrap()
    }

    fn typify_any_of() -> TokenStream {
        quote! {
            #[doc = "`PostRemoveCommentApiResponse`"]
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default)]
            pub struct PostRemoveCommentApiResponse {
                #[serde(flatten, skip_serializing_if = "::std::option::Option::is_none")]
                pub subtype_0: ::std::option::Option<DeleteCommentResult>,
                #[serde(flatten, skip_serializing_if = "::std::option::Option::is_none")]
                pub subtype_1: ::std::option::Option<RemoveCommentActionResponse>,
            }
        }
    }

    #[test]
    fn a_struct_of_flattened_options_gets_the_checked_impl_and_keeps_its_shape() {
        let mut file = types(typify_any_of());
        assert_eq!(find(&file), ["PostRemoveCommentApiResponse"]);
        assert_eq!(apply(&mut file).unwrap(), ["PostRemoveCommentApiResponse"]);
        assert_eq!(find(&file), Vec::<String>::new(), "nothing left unchecked");
        let code = file.to_token_stream().to_string();
        for expected in [
            // The type: same fields and attributes, every derive but Deserialize.
            "# [derive (:: serde :: Serialize , Clone , Debug , Default)] # [doc = \"\"]",
            "pub struct PostRemoveCommentApiResponse {",
            "pub subtype_0 : :: std :: option :: Option < DeleteCommentResult >",
            // The derived decode, kept as it was on a private copy.
            "# [derive (:: serde :: Deserialize)] struct __Parts { # [serde (flatten , skip_serializing_if = \"::std::option::Option::is_none\")] subtype_0 : :: std :: option :: Option < DeleteCommentResult > ,",
            "(__parts . subtype_0 . is_some () || __parts . subtype_1 . is_some ())",
            // Each branch alone, named for the error, through the crate's one decode.
            "crate :: response :: any_of (__deserializer , & [\"DeleteCommentResult\" , \"RemoveCommentActionResponse\"] ,",
            "0usize => < DeleteCommentResult as :: serde :: Deserialize > :: deserialize (__body)",
            "subtype_0 : :: std :: option :: Option :: Some (__branch) , subtype_1 : :: std :: option :: Option :: None ,",
            "_ => < RemoveCommentActionResponse as :: serde :: Deserialize > :: deserialize (__body)",
        ] {
            assert!(code.contains(expected), "{expected} missing in {code}");
        }
        assert!(code.contains("A body that matches none of the branches"));
    }

    #[test]
    fn deterministic_and_idempotent() {
        let mut once = types(typify_any_of());
        apply(&mut once).unwrap();
        let mut again = types(typify_any_of());
        apply(&mut again).unwrap();
        assert_eq!(
            once.to_token_stream().to_string(),
            again.to_token_stream().to_string()
        );
        let before = once.to_token_stream().to_string();
        assert_eq!(apply(&mut once).unwrap(), Vec::<String>::new());
        assert_eq!(once.to_token_stream().to_string(), before);
    }

    #[test]
    fn other_structs_are_left_alone() {
        let mut file = types(quote! {
            // A required part: typify's allOf, which {} does not fit.
            #[derive(::serde::Deserialize)]
            pub struct AllOf { #[serde(flatten)] pub subtype_0: Part }
            // An open record beside named fields.
            #[derive(::serde::Deserialize)]
            pub struct Open {
                pub id: String,
                #[serde(flatten)] pub extra: ::std::option::Option<Map>,
            }
            // An Option that is not flattened.
            #[derive(::serde::Deserialize)]
            pub struct Plain { pub a: ::std::option::Option<u8> }
            // Not decoded by the client (a request type).
            #[derive(::serde::Serialize)]
            pub struct Sent { #[serde(flatten)] pub subtype_0: ::std::option::Option<Part> }
            #[derive(::serde::Deserialize)]
            pub struct Empty {}
        });
        let before = file.to_token_stream().to_string();
        assert_eq!(find(&file), Vec::<String>::new());
        assert_eq!(apply(&mut file).unwrap(), Vec::<String>::new());
        assert_eq!(file.to_token_stream().to_string(), before);
    }
}
