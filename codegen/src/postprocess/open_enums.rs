//! Opens every enum of the spec: a value the generated code does not know decodes, is
//! kept, and is encoded back unchanged.
//!
//! FastComments adds values to its enums over time; with typify's closed enums one new
//! value in one item fails the decode of a whole response. Two shapes are rewritten:
//! - an integer enum (typify's `pub struct X(i64)` with a `TryFrom<i64>` refusing values
//!   outside the list): its `Deserialize` takes any `i64`; `X::is_known()` says whether
//!   the value is in the spec's list. `TryFrom<i64>` still refuses other values.
//! - a string enum (unit variants, one per value, and a `FromStr`): it gains a last
//!   variant `Other(String)` (`#[serde(untagged)]`, so it encodes as the bare string), a
//!   hand-written `Deserialize` (known values to their variant, any other string to
//!   `Other`, without allocating for a known value), `as_str()` and `is_known()`.
//!   `FromStr` and `TryFrom<&str>` still refuse other values, so a request carries one
//!   only when the caller writes `Other(..)` itself.
//!
//! The mock's schemas (`schemars::JsonSchema`) stay closed (`Other` is skipped), so the
//! mock keeps refusing a request value outside the spec's list.
//!
//! Lost: `Copy` on string enums (`Other` owns a `String`), exhaustive matches on them (a
//! match needs an `Other(_)` arm), and decode errors for values outside the list.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::{derive_paths, module_items, names, remove_derive};

/// How many enums of each kind were opened.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// Integer enums (`struct X(i64)`).
    pub integer: usize,
    /// String enums (unit variants).
    pub string: usize,
}

/// Opens the integer and string enums of the `types` module. Idempotent: an enum that
/// already has `Other` is left as it is.
pub fn apply(file: &mut syn::File) -> Result<Opened, String> {
    let types = module_items(file, "types").ok_or("progenitor emitted no types module")?;
    let integers: Vec<String> = types.iter().filter_map(integer_enum).collect();
    let strings: Vec<String> = types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Enum(e) if is_string_enum(e, types) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut added = Vec::new();
    for item in types.iter_mut() {
        match item {
            syn::Item::Impl(imp) if is_impl_of(imp, &integers, "Deserialize") => {
                let ty = imp.self_ty.clone();
                added.push(syn::Item::Verbatim(integer_methods(&ty)));
                *item = syn::parse_quote! {
                    impl<'de> ::serde::Deserialize<'de> for #ty {
                        fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
                        where
                            D: ::serde::Deserializer<'de>,
                        {
                            <i64 as ::serde::Deserialize<'de>>::deserialize(deserializer).map(Self)
                        }
                    }
                };
            }
            // typify's Display matches `*self`, which cannot move `Other`'s string.
            syn::Item::Impl(imp) if is_impl_of(imp, &strings, "Display") => {
                let ty = imp.self_ty.clone();
                *item = syn::parse_quote! {
                    impl ::std::fmt::Display for #ty {
                        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                            f.write_str(self.as_str())
                        }
                    }
                };
            }
            syn::Item::Enum(e) if strings.contains(&e.ident.to_string()) => {
                added.push(syn::Item::Verbatim(open_string_enum(e)));
            }
            _ => {}
        }
    }
    types.extend(added);
    Ok(Opened {
        integer: integers.len(),
        string: strings.len(),
    })
}

/// The name of an integer enum: a `struct X(i64)` with `TryFrom<i64>` and a hand-written
/// `Deserialize` through it (typify's shape), not yet opened.
fn integer_enum(item: &syn::Item) -> Option<String> {
    let syn::Item::Impl(imp) = item else {
        return None;
    };
    let (.., path, _) = imp.trait_.as_ref()?;
    let name = super::type_name(&imp.self_ty)?;
    let body = imp.to_token_stream().to_string();
    (names(path, "Deserialize") && body.contains("Self :: try_from (< i64 > :: deserialize"))
        .then_some(name)
}

/// Whether `e` is a string enum typify emitted (unit variants and a `FromStr`), not yet
/// opened.
fn is_string_enum(e: &syn::ItemEnum, items: &[syn::Item]) -> bool {
    let name = e.ident.to_string();
    !e.variants.is_empty()
        && e.variants
            .iter()
            .all(|v| matches!(v.fields, syn::Fields::Unit))
        && items.iter().any(|item| match item {
            syn::Item::Impl(imp) => is_impl_of(imp, std::slice::from_ref(&name), "FromStr"),
            _ => false,
        })
}

/// Whether `imp` implements `trait_name` for one of `types`.
fn is_impl_of(imp: &syn::ItemImpl, types: &[String], trait_name: &str) -> bool {
    imp.trait_
        .as_ref()
        .is_some_and(|(.., path, _)| names(path, trait_name))
        && super::type_name(&imp.self_ty).is_some_and(|n| types.contains(&n))
}

fn integer_methods(ty: &syn::Type) -> TokenStream {
    quote! {
        impl #ty {
            /// Whether the value is one of the spec's list (one FastComments added since
            /// is kept as it came, and is not).
            pub fn is_known(&self) -> bool {
                <Self as ::std::convert::TryFrom<i64>>::try_from(self.0).is_ok()
            }
        }
    }
}

/// Adds `Other(String)` to `e`, drops its derived `Deserialize` and `Copy`, and returns
/// its `Deserialize` (when it derived one) and `as_str`/`is_known`.
fn open_string_enum(e: &mut syn::ItemEnum) -> TokenStream {
    let name = e.ident.clone();
    let values: Vec<(syn::Ident, String)> = e
        .variants
        .iter()
        .map(|v| (v.ident.clone(), wire_name(v)))
        .collect();
    let derives: Vec<syn::Path> = e.attrs.iter().filter_map(derive_paths).flatten().collect();
    let deserialize = derives.iter().any(|p| names(p, "Deserialize"));
    let schema = derives.iter().any(|p| names(p, "JsonSchema"));
    for attr in &mut e.attrs {
        remove_derive(attr, "Deserialize");
        remove_derive(attr, "Copy");
    }
    let skip_schema = schema.then(|| quote!(#[schemars(skip)]));
    e.variants.push(syn::parse_quote! {
        /// A value outside the spec's list, as FastComments sent it.
        #[serde(untagged)]
        #skip_schema
        Other(::std::string::String)
    });
    let idents = values.iter().map(|(ident, _)| ident);
    let wire = values.iter().map(|(_, wire)| wire);
    let methods = quote! {
        impl #name {
            /// The value as FastComments writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #wire,)*
                    Self::Other(value) => value,
                }
            }
            /// Whether the value is one of the spec's list (`Other` is not).
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }
    };
    if !deserialize {
        return methods;
    }
    let expecting = format!("a {name} string");
    quote! {
        #methods
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                struct __Visitor;
                impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> ::std::result::Result<#name, E> {
                        ::std::result::Result::Ok(value.parse().unwrap_or_else(|_| #name::Other(value.to_owned())))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, value: ::std::string::String) -> ::std::result::Result<#name, E> {
                        ::std::result::Result::Ok(match value.parse() {
                            ::std::result::Result::Ok(known) => known,
                            ::std::result::Result::Err(_) => #name::Other(value),
                        })
                    }
                }
                deserializer.deserialize_str(__Visitor)
            }
        }
    }
}

/// A variant's value on the wire: its `#[serde(rename = "..")]`, else its name.
fn wire_name(v: &syn::Variant) -> String {
    v.attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| a.parse_args::<syn::MetaNameValue>().ok())
        .find(|m| m.path.is_ident("rename"))
        .and_then(|m| match m.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        })
        .unwrap_or_else(|| v.ident.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment() -> syn::File {
        syn::parse_quote! {
            pub mod types {
                #[derive(::serde::Serialize, Clone, Debug)]
                #[serde(transparent)]
                pub struct Kind(i64);
                impl ::std::convert::TryFrom<i64> for Kind {
                    type Error = self::error::ConversionError;
                    fn try_from(value: i64) -> ::std::result::Result<Self, self::error::ConversionError> {
                        if ![1_i64, 2_i64].contains(&value) { Err("invalid value".into()) } else { Ok(Self(value)) }
                    }
                }
                impl<'de> ::serde::Deserialize<'de> for Kind {
                    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
                    where D: ::serde::Deserializer<'de>,
                    {
                        Self::try_from(<i64>::deserialize(deserializer)?)
                            .map_err(|e| <D::Error as ::serde::de::Error>::custom(e.to_string()))
                    }
                }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug, PartialEq)]
                pub enum From {
                    #[serde(rename = "ui")]
                    Ui,
                    Api,
                }
                impl ::std::fmt::Display for From {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match *self { Self::Ui => f.write_str("ui"), Self::Api => f.write_str("Api") }
                    }
                }
                impl ::std::str::FromStr for From {
                    type Err = self::error::ConversionError;
                    fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
                        match value { "ui" => Ok(Self::Ui), "Api" => Ok(Self::Api), _ => Err("invalid value".into()) }
                    }
                }
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                #[serde(untagged)]
                pub enum Either { A(Kind), B(From) }
            }
        }
    }

    #[test]
    fn integer_and_string_enums_are_opened_and_others_left_alone() {
        let mut file = fragment();
        assert_eq!(
            apply(&mut file).unwrap(),
            Opened {
                integer: 1,
                string: 1
            }
        );
        let code = file.to_token_stream().to_string();
        assert!(!code.contains("try_from (< i64 > :: deserialize"), "{code}");
        assert!(
            code.contains("deserialize (deserializer) . map (Self)"),
            "{code}"
        );
        assert!(code.contains("# [serde (untagged)] Other (:: std :: string :: String)"));
        assert!(
            code.contains("Self :: Ui => \"ui\" , Self :: Api => \"Api\""),
            "{code}"
        );
        assert!(code.contains("f . write_str (self . as_str ())"), "{code}");
        // `From` no longer derives Deserialize nor Copy; `Either` keeps its derives.
        assert!(code.contains(
            "# [derive (:: serde :: Serialize , Clone , Debug , PartialEq)] pub enum From"
        ));
        assert!(code.contains("# [serde (untagged)] pub enum Either { A (Kind) , B (From) }"));
        assert!(
            !code.contains("schemars"),
            "no JsonSchema derive, no schemars attribute"
        );
    }

    #[test]
    fn the_mock_schema_skips_other() {
        let mut file: syn::File = syn::parse_quote! {
            pub mod types {
                #[derive(::serde::Serialize, Clone, schemars::JsonSchema)]
                pub enum Dir { Up }
                impl ::std::str::FromStr for Dir {
                    type Err = ();
                    fn from_str(value: &str) -> Result<Self, ()> { Err(()) }
                }
            }
        };
        apply(&mut file).unwrap();
        let code = file.to_token_stream().to_string();
        assert!(code.contains("# [schemars (skip)] Other"), "{code}");
        // Request-only (no Deserialize derived): no Deserialize impl is added.
        assert!(!code.contains("Deserialize"), "{code}");
    }

    #[test]
    fn applying_twice_changes_nothing() {
        let mut once = fragment();
        apply(&mut once).unwrap();
        let mut twice = once.clone();
        assert_eq!(apply(&mut twice).unwrap(), Opened::default());
        assert_eq!(
            once.to_token_stream().to_string(),
            twice.to_token_stream().to_string()
        );
    }
}
