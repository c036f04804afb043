//! `mock_operations.rs`: every generated operation as the mock server checks and answers
//! it (parameters from the spec, body and response as the generated types); and
//! `every_call.rs`: one typed call per operation, for the test that calls them all.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;

use crate::shapes::Shape;
use crate::spec::{Operation, resolve};

/// The mock's table of operations: `spec_operations()`, in `crate::mock`.
pub fn table(spec: &Value, ops: &[Operation<'_>], shapes: &BTreeMap<String, Shape>) -> TokenStream {
    let entries = ops.iter().filter_map(|op| {
        let shape = shapes.get(&op.builder_name())?;
        let id = op.id;
        // Header and cookie parameters (the spec has none today) are not checked.
        let params = op
            .parameters()
            .filter(|p| p["in"] == "path" || p["in"] == "query")
            .map(|p| parameter(spec, p));
        let response = &shape.response;
        let body_required = op
            .raw
            .get("requestBody")
            .and_then(|b| b["required"].as_bool())
            .unwrap_or(false);
        let body = match &shape.body {
            Some(ty) => quote! {
                Some(BodyType {
                    required: #body_required,
                    check: check_body::<#ty>,
                    schema: || schemars::schema_for!(#ty),
                })
            },
            None => quote!(None),
        };
        Some(quote! {
            SpecOperation {
                id: #id,
                params: &[#(#params),*],
                body: #body,
                respond: typed::<#response>,
                fits: fits::<#response>,
                response_schema: || schemars::schema_for!(#response),
            },
        })
    });
    quote! {
        pub(crate) fn spec_operations() -> Vec<SpecOperation> {
            vec![#(#entries)*]
        }
    }
}

/// One parameter: where it goes, whether it is required, its kind and allowed values.
fn parameter(spec: &Value, p: &Value) -> TokenStream {
    let name = p["name"].as_str().unwrap_or_default();
    let location = Ident::new(
        if p["in"] == "path" { "Path" } else { "Query" },
        Span::call_site(),
    );
    let required = p["required"].as_bool().unwrap_or(false);
    let (schema, _) = resolve(spec, &p["schema"]);
    let kind = Ident::new(
        match schema["type"].as_str() {
            Some("integer") => "Integer",
            Some("number") => "Number",
            Some("boolean") => "Boolean",
            Some("array") => "Array",
            _ => "String",
        },
        Span::call_site(),
    );
    let values: Vec<String> = schema["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    quote! {
        Param { name: #name, location: In::#location, required: #required, kind: Kind::#kind,
                values: &[#(#values),*] }
    }
}

/// `every_call.rs`: `call(id, client, args)`, one arm per generated operation, setting
/// every required parameter (`tenantId` is preset by the client) and the body, and
/// returning the answer encoded again as JSON.
pub fn every_call(ops: &[Operation<'_>], shapes: &BTreeMap<String, Shape>) -> TokenStream {
    let arms = ops.iter().filter_map(|op| {
        let shape = shapes.get(&op.builder_name())?;
        let id = op.id;
        let method = Ident::new(&op.method_name(), Span::call_site());
        let setters = shape
            .setters
            .iter()
            .filter(|s| s.required && s.name != "tenant_id")
            .map(|s| (s, spec_name(op, &s.name)))
            .filter(|(_, name)| op.parameter(name).is_some_and(|p| p["required"] == true))
            .map(|(s, name)| {
                let setter = Ident::new(&s.name, Span::call_site());
                let ty = &s.ty;
                quote!(.#setter(args.param::<#ty>(#name).expect(#name)))
            });
        let body = shape
            .body
            .as_ref()
            .map(|ty| quote!(.body(args.body::<#ty>().expect("body"))));
        // The optional values an example carries (its `sso`), set when it has them.
        let optional = shape
            .setters
            .iter()
            .filter(|s| s.name != "tenant_id")
            .map(|s| (s, spec_name(op, &s.name)))
            .filter(|(_, name)| op.parameter(name).is_some_and(|p| p["required"] != true))
            .map(|(s, name)| {
                let setter = Ident::new(&s.name, Span::call_site());
                let ty = &s.ty;
                quote! {
                    let call = match args.params.get(#name) {
                        Some(_) => call.#setter(args.param::<#ty>(#name).expect(#name)),
                        None => call,
                    };
                }
            });
        // Each arm's future on the heap: 200 builders in one future overflow a stack.
        Some(quote! {
            #id => Some(Box::pin(async {
                let call = client.#method() #(#setters)* #body;
                #(#optional)*
                call.send().await
                    .map(|answer| serde_json::to_value(answer).expect("a response encodes as JSON"))
            }).await),
        })
    });
    quote! {
        /// Calls operation `id` with the required values from `args` (and the optional
        /// ones it carries); returns its answer
        /// as the generated type encodes it again; `None` for an operation that is not
        /// generated.
        pub async fn call(
            id: &str,
            client: &fastcomments::Client,
            args: &fastcomments::mock::ExampleRequest,
        ) -> Option<Result<serde_json::Value, fastcomments::Error>> {
            match id {
                #(#arms)*
                _ => None,
            }
        }
    }
}

/// The spec's name of the parameter a setter sets (`urlId` for `url_id`).
fn spec_name(op: &Operation<'_>, setter: &str) -> String {
    let setter = setter.trim_start_matches("r#").trim_end_matches('_');
    op.parameters()
        .filter_map(|p| p["name"].as_str())
        .find(|name| heck::ToSnakeCase::to_snake_case(*name) == setter)
        .unwrap_or(setter)
        .to_string()
}
