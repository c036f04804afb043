//! What each generated builder takes and returns, read back from the generated code:
//! the mock's operation table and the test that calls every operation need the exact
//! Rust types progenitor chose, which only the generated code knows.

use std::collections::BTreeMap;

use quote::ToTokens;

use crate::postprocess::{module, type_name};

/// One builder setter.
#[derive(Clone)]
pub struct Setter {
    /// The method's name (`url_id`).
    pub name: String,
    /// The type the value is converted into (`V: TryInto<T>`).
    pub ty: syn::Type,
    /// Whether `send()` fails locally when it is not called (the parameter is required).
    pub required: bool,
}

/// What one operation's builder takes and returns.
#[derive(Clone)]
pub struct Shape {
    /// The parameters' setters, in the builder's field order (`body` excluded).
    pub setters: Vec<Setter>,
    /// The request body's type, when the operation takes one.
    pub body: Option<syn::Type>,
    /// What `send()` returns on success.
    pub response: syn::Type,
}

/// Every builder's shape, by builder name. Call it after `send()` was rewritten
/// (`Result<T, crate::Error>`).
pub fn read(file: &syn::File) -> Result<BTreeMap<String, Shape>, String> {
    let items = module(file, "builder").ok_or("no builder module")?;
    let mut fields = BTreeMap::new();
    for item in items {
        if let syn::Item::Struct(s) = item {
            let optional: BTreeMap<String, bool> = s
                .fields
                .iter()
                .filter_map(|f| Some((f.ident.as_ref()?.to_string(), is_optional(&f.ty))))
                .collect();
            fields.insert(s.ident.to_string(), optional);
        }
    }
    let mut shapes = BTreeMap::new();
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let Some(builder) = type_name(&block.self_ty) else {
            continue;
        };
        let Some(optional) = fields.get(&builder) else {
            continue;
        };
        let mut shape = Shape {
            setters: Vec::new(),
            body: None,
            response: syn::parse_quote!(()),
        };
        let mut has_send = false;
        for f in block.items.iter().filter_map(|i| match i {
            syn::ImplItem::Fn(f) => Some(f),
            _ => None,
        }) {
            let name = f.sig.ident.to_string();
            if name == "send" {
                shape.response = success_type(&f.sig.output)
                    .ok_or_else(|| format!("{builder}::send returns no Result"))?;
                has_send = true;
            } else if let Some(ty) = converted_type(f) {
                if name == "body" {
                    shape.body = Some(ty);
                } else if let Some(is_optional) = optional.get(&name) {
                    shape.setters.push(Setter {
                        name,
                        ty,
                        required: !is_optional,
                    });
                }
            }
        }
        if has_send {
            shapes.insert(builder, shape);
        }
    }
    Ok(shapes)
}

/// `Result<Option<T>, String>`: a field set only when asked.
fn is_optional(ty: &syn::Type) -> bool {
    ty.to_token_stream()
        .to_string()
        .replace(' ', "")
        .starts_with("Result<::std::option::Option<")
}

/// `T` of a setter's `where V: TryInto<T>`.
fn converted_type(f: &syn::ImplItemFn) -> Option<syn::Type> {
    f.sig
        .generics
        .where_clause
        .as_ref()?
        .predicates
        .iter()
        .find_map(|p| {
            let syn::WherePredicate::Type(p) = p else {
                return None;
            };
            if p.bounded_ty.to_token_stream().to_string() != "V" {
                return None;
            }
            p.bounds.iter().find_map(|b| {
                let syn::TypeParamBound::Trait(t) = b else {
                    return None;
                };
                let last = t.path.segments.last()?;
                if last.ident != "TryInto" {
                    return None;
                }
                first_type_argument(&last.arguments)
            })
        })
}

/// `T` of `Result<T, _>`.
fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let syn::Type::Path(path) = &**ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    (last.ident == "Result")
        .then(|| first_type_argument(&last.arguments))
        .flatten()
}

fn first_type_argument(arguments: &syn::PathArguments) -> Option<syn::Type> {
    let syn::PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_body_and_response_are_read_from_a_builder() {
        let file: syn::File = syn::parse_quote! {
            pub mod builder {
                pub struct GetX<'a> {
                    client: &'a super::Client,
                    id: Result<::std::string::String, String>,
                    limit: Result<::std::option::Option<i32>, String>,
                    body: Result<types::builder::XBody, String>,
                }
                impl<'a> GetX<'a> {
                    pub fn id<V>(mut self, value: V) -> Self
                    where V: std::convert::TryInto<::std::string::String> { self }
                    pub fn limit<V>(mut self, value: V) -> Self
                    where V: std::convert::TryInto<i32> { self }
                    pub fn body<V>(mut self, value: V) -> Self
                    where V: std::convert::TryInto<types::XBody>,
                    <V as std::convert::TryInto<types::XBody>>::Error: std::fmt::Display { self }
                    pub async fn send(self) -> ::std::result::Result<types::XResponse, crate::Error> {
                        todo!()
                    }
                }
            }
        };
        let shapes = read(&file).unwrap();
        let x = &shapes["GetX"];
        let view: Vec<(&str, String, bool)> = x
            .setters
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.ty.to_token_stream().to_string(),
                    s.required,
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("id", ":: std :: string :: String".to_string(), true),
                ("limit", "i32".to_string(), false)
            ]
        );
        assert_eq!(x.body.to_token_stream().to_string(), "types :: XBody");
        assert_eq!(
            x.response.to_token_stream().to_string(),
            "types :: XResponse"
        );
    }
}
