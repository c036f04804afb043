//! Replaces serde's derived `Deserialize` of plain structs by a lean one.
//!
//! For each struct serde's derive emits a field enum with its own visitor (string,
//! integer and byte keys), a sequence visitor (a struct from a JSON array) and a map
//! visitor: most of the crate's compile time, since every response type has one. The
//! lean impl has only the map visitor, matching keys as strings borrowed from the body
//! (`crate::response::Key`). Same wire semantics for JSON: renamed fields, `default`
//! and `default = "path"`, `Option` fields missing or null as `None`, unknown fields
//! ignored, required-but-nullable fields (typify's `deserialize_with =
//! "Option::deserialize"`) present and maybe null, missing and duplicate fields reported
//! with serde's own messages. Lost: a
//! struct cannot be decoded from a sequence (JSON objects only). Structs with any other
//! serde attribute (`flatten`, `transparent`, `with`, ...) keep the derive.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{derives_deserialize, module_items, remove_derive};

/// Rewrites the eligible structs of `types`; returns how many.
pub fn apply(file: &mut syn::File) -> Result<usize, String> {
    let types = module_items(file, "types").ok_or("progenitor emitted no types module")?;
    let mut impls = Vec::new();
    for item in types.iter_mut() {
        let syn::Item::Struct(strukt) = item else {
            continue;
        };
        let Some(lean) = lean_impl(strukt) else {
            continue;
        };
        strukt
            .attrs
            .iter_mut()
            .for_each(|a| remove_derive(a, "Deserialize"));
        // Tokens as they are: parsing them back would only cost the build script time.
        impls.push(syn::Item::Verbatim(lean));
    }
    let count = impls.len();
    types.extend(impls);
    Ok(count)
}

/// One field as the decoder needs it.
struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    name: String,
    default: Default,
}

enum Default {
    /// Required: missing is an error.
    None,
    /// `#[serde(default)]`, or an `Option`.
    Trait,
    /// `#[serde(default = "path")]`.
    Path(syn::ExprPath),
}

/// The lean impl of a struct that derives `Deserialize` and has only attributes the lean
/// impl honours; `None` otherwise.
fn lean_impl(strukt: &syn::ItemStruct) -> Option<TokenStream> {
    if !derives_deserialize(&strukt.attrs)
        || strukt.attrs.iter().any(|a| a.path().is_ident("serde"))
        || !strukt.generics.params.is_empty()
    {
        return None;
    }
    let syn::Fields::Named(named) = &strukt.fields else {
        return None;
    };
    let fields: Vec<Field> = named.named.iter().map(field).collect::<Option<_>>()?;
    let name = &strukt.ident;
    let expecting = format!("struct {name}");
    let slots: Vec<syn::Ident> = (0..fields.len())
        .map(|i| format_ident!("__field{}", i))
        .collect();
    let types = fields.iter().map(|f| &f.ty);
    let keys: Vec<&String> = fields.iter().map(|f| &f.name).collect();
    let finish = fields.iter().zip(&slots).map(|(f, slot)| {
        let ident = &f.ident;
        let key = &f.name;
        let value = match &f.default {
            Default::None => quote! {
                #slot.ok_or_else(|| <__A::Error as ::serde::de::Error>::missing_field(#key))?
            },
            Default::Trait => quote!(#slot.unwrap_or_default()),
            Default::Path(path) => quote!(#slot.unwrap_or_else(#path)),
        };
        quote!(#ident: #value)
    });
    let name_str = name.to_string();
    Some(quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(
                __deserializer: __D,
            ) -> ::std::result::Result<Self, __D::Error> {
                struct __Visitor;
                impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_map<__A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut __map: __A,
                    ) -> ::std::result::Result<#name, __A::Error> {
                        #(let mut #slots: ::std::option::Option<#types> = ::std::option::Option::None;)*
                        while let ::std::option::Option::Some(__key) =
                            __map.next_key::<crate::response::Key<'de>>()?
                        {
                            match __key.as_str() {
                                #(#keys => {
                                    if #slots.is_some() {
                                        return ::std::result::Result::Err(
                                            <__A::Error as ::serde::de::Error>::duplicate_field(#keys),
                                        );
                                    }
                                    #slots = ::std::option::Option::Some(__map.next_value()?);
                                })*
                                _ => {
                                    __map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        ::std::result::Result::Ok(#name { #(#finish,)* })
                    }
                }
                __deserializer.deserialize_struct(#name_str, &[#(#keys),*], __Visitor)
            }
        }
    })
}

/// A field, or `None` when it has a serde attribute the lean impl does not honour.
fn field(field: &syn::Field) -> Option<Field> {
    let ident = field.ident.clone()?;
    let mut name = ident.to_string().trim_start_matches("r#").to_string();
    let mut default = if is_option(&field.ty) {
        Default::Trait
    } else {
        Default::None
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let mut supported = true;
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                name = meta.value()?.parse::<syn::LitStr>()?.value();
            } else if meta.path.is_ident("default") {
                default = match meta.value() {
                    Ok(value) => Default::Path(value.parse::<syn::LitStr>()?.parse()?),
                    Err(_) => Default::Trait,
                };
            } else if meta.path.is_ident("skip_serializing_if") {
                meta.value()?.parse::<syn::LitStr>()?;
            } else if meta.path.is_ident("deserialize_with") {
                // typify's required-but-nullable field: present, and maybe null.
                let with = meta.value()?.parse::<syn::LitStr>()?.value();
                supported &= with == "::std::option::Option::deserialize";
                default = Default::None;
            } else {
                supported = false;
                // Consume any value so that parsing goes on.
                if let Ok(value) = meta.value() {
                    value.parse::<syn::Expr>()?;
                }
            }
            Ok(())
        })
        .ok()?;
        if !supported {
            return None;
        }
    }
    Some(Field {
        ident,
        ty: field.ty.clone(),
        name,
        default,
    })
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn types(items: TokenStream) -> syn::File {
        syn::parse2(quote!(pub mod types { #items })).unwrap()
    }

    #[test]
    fn a_plain_struct_gets_the_lean_impl_and_loses_the_derive() {
        let mut file = types(quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
            pub struct Reply {
                #[serde(rename = "itemCount", default, skip_serializing_if = "Option::is_none")]
                pub item_count: Option<i64>,
                pub status: Status,
                #[serde(rename = "type")]
                pub r#type: String,
                #[serde(default = "defaults::ten")]
                pub size: u64,
                pub note: ::std::option::Option<String>,
                #[serde(deserialize_with = "::std::option::Option::deserialize")]
                pub locale: ::std::option::Option<String>,
            }
        });
        assert_eq!(apply(&mut file).unwrap(), 1);
        let code = file.to_token_stream().to_string();
        assert!(
            code.contains("derive (:: serde :: Serialize , Clone , Debug)"),
            "{code}"
        );
        for expected in [
            "\"itemCount\" =>",
            "\"type\" =>",
            "missing_field (\"status\")",
            "unwrap_or_else (defaults :: ten)",
            "crate :: response :: Key < 'de >",
            "missing_field (\"locale\")",
            "deserialize_struct (\"Reply\" , & [\"itemCount\" , \"status\" , \"type\" , \"size\" , \"note\" , \"locale\"]",
        ] {
            assert!(code.contains(expected), "{expected} missing in {code}");
        }
        // Both Options default to None: missing or null.
        assert_eq!(code.matches("unwrap_or_default ()").count(), 2);
    }

    #[test]
    fn structs_with_other_attributes_or_shapes_keep_the_derive() {
        let mut file = types(quote! {
            #[derive(::serde::Deserialize)]
            pub struct Flat { #[serde(flatten)] pub extra: Map }
            #[derive(::serde::Deserialize)]
            #[serde(transparent)]
            pub struct Id(pub String);
            #[derive(::serde::Deserialize)]
            pub struct Tuple(pub String, pub u8);
            #[derive(::serde::Serialize)]
            pub struct NotDecoded { pub a: u8 }
        });
        let before = file.to_token_stream().to_string();
        assert_eq!(apply(&mut file).unwrap(), 0);
        assert_eq!(file.to_token_stream().to_string(), before);
    }
}
