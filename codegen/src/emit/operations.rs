//! `operations.rs`: the table of every operation of the spec (`fastcomments::operations`),
//! and one tenant-scoped method per generated operation on `fastcomments::Client`.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use serde_json::Value;

use crate::spec::{self, Operation, TenantId};

/// The table; `hand_written` maps each removed operation to its facade method. `spec` is
/// the published spec, to resolve parameters' `$ref` schemas.
pub fn table(spec: &Value, ops: &[Operation<'_>], hand_written: &[(&str, &str)]) -> TokenStream {
    let entries = ops.iter().map(|op| {
        let (id, method, path) = (op.id, &op.method, op.path);
        let method_name = op.method_name();
        let key = op.requires_api_key;
        let tenant = Ident::new(tenant_variant(op.tenant_id), Span::call_site());
        let implementation = match hand_written.iter().find(|(h, _)| *h == op.id) {
            Some((_, facade)) => quote!(Implementation::HandWritten(#facade)),
            None => quote!(Implementation::Generated),
        };
        let (group, summary) = (op.group(), op.summary);
        let parameters = op.parameters().map(|p| parameter(spec, p));
        let body = body(op);
        quote! {
            Operation {
                id: #id, method_name: #method_name, method: #method, path: #path,
                requires_api_key: #key, tenant_id: TenantIdIn::#tenant,
                implementation: #implementation,
                group: #group, summary: #summary,
                parameters: &[#(#parameters)*], body: #body,
            },
        }
    });
    quote! {
        /// Every operation of `openapi.json`, sorted by operation id.
        pub static OPERATIONS: &[Operation] = &[#(#entries)*];
    }
}

/// One `Parameter { .. }` entry: name, place, whether required, its kind (an enum's
/// values, an array's repeated strings) and the first line of its description.
fn parameter(spec: &Value, p: &Value) -> TokenStream {
    let name = p["name"].as_str().unwrap_or_default();
    let place = match p["in"].as_str() {
        Some("path") => quote!(ParameterIn::Path),
        Some("header") => quote!(ParameterIn::Header),
        Some("cookie") => quote!(ParameterIn::Cookie),
        _ => quote!(ParameterIn::Query),
    };
    let required = p["required"].as_bool().unwrap_or(false);
    let (schema, _) = spec::resolve(spec, &p["schema"]);
    let kind = match (schema["type"].as_str(), schema["enum"].as_array()) {
        (_, Some(values)) => {
            let values = values.iter().filter_map(Value::as_str);
            quote!(ParameterKind::Enum(&[#(#values),*]))
        }
        (Some("integer"), _) => quote!(ParameterKind::Integer),
        (Some("number"), _) => quote!(ParameterKind::Number),
        (Some("boolean"), _) => quote!(ParameterKind::Boolean),
        (Some("array"), _) => quote!(ParameterKind::Array),
        _ => quote!(ParameterKind::String),
    };
    let description = p["description"]
        .as_str()
        .and_then(|d| d.lines().next())
        .unwrap_or("");
    quote! {
        Parameter {
            name: #name, place: #place, required: #required, kind: #kind,
            description: #description,
        },
    }
}

/// The operation's `Body`: none, JSON (required or not) or `multipart/form-data`.
fn body(op: &Operation<'_>) -> TokenStream {
    let Some(body) = op.raw.get("requestBody") else {
        return quote!(Body::None);
    };
    let required = body["required"].as_bool().unwrap_or(false);
    match body["content"].as_object() {
        Some(content) if content.contains_key("application/json") => {
            quote!(Body::Json { required: #required })
        }
        Some(content) if content.contains_key("multipart/form-data") => quote!(Body::Multipart),
        _ => quote!(Body::None),
    }
}

fn tenant_variant(tenant: TenantId) -> &'static str {
    match tenant {
        TenantId::None => "None",
        TenantId::Query => "Query",
        TenantId::Path => "Path",
    }
}

/// One method per generated operation on `crate::Client`, returning the builder with
/// `tenantId` preset from the client.
pub fn tenant_scoped_methods(ops: &[Operation<'_>], removed: &BTreeSet<String>) -> TokenStream {
    let methods = ops.iter().filter(|op| !removed.contains(op.id)).map(|op| {
        let name = Ident::new(&op.method_name(), Span::call_site());
        let builder = Ident::new(&op.builder_name(), Span::call_site());
        let summary = op.summary.replace('[', "\\[").replace(']', "\\]");
        let title = format!(" `{} {}` ({}). {summary}", op.method, op.path, op.id);
        let key = if op.requires_api_key {
            " Sends the API key."
        } else {
            " Public: the API key is never sent."
        };
        let tenant = match op.tenant_id {
            TenantId::None => "",
            _ => " `tenantId` is preset from the client; `.tenant_id(..)` overrides it.",
        };
        let detail = format!("{key}{tenant}");
        let body = match op.tenant_id {
            TenantId::None => quote!(self.generated().#name()),
            _ => quote! {
                let builder = self.generated().#name();
                match self.tenant_id() {
                    Some(tenant_id) => builder.tenant_id(tenant_id),
                    None => builder,
                }
            },
        };
        quote! {
            #[doc = #title]
            #[doc = ""]
            #[doc = #detail]
            #[inline]
            pub fn #name(&self) -> crate::builder::#builder<'_> {
                #body
            }
        }
    });
    quote! {
        impl crate::Client {
            #(#methods)*
        }
    }
}
