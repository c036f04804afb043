//! Runs progenitor on the rewritten spec and applies the post-processing passes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::postprocess::{
    any_of, builders, derives, http_methods, lean_deserialize, open_enums, reserved_idents, send,
    uninhabited,
};

/// The generated client, post-processed. `index_of` maps progenitor's operation names to
/// their index in the emitted operations table; `hand_written_responses` names the
/// response types of the operations written by hand. `mock` derives what the mock server
/// needs and a client does not: `schemars::JsonSchema` on every type, and `Deserialize`
/// on the types that only go into requests.
pub fn generate(
    spec: &Value,
    index_of: &BTreeMap<String, usize>,
    hand_written_responses: Vec<String>,
    mock: bool,
) -> Result<syn::File, String> {
    let openapi: openapiv3::OpenAPI = serde_json::from_value(spec.clone())
        .map_err(|e| format!("the rewritten spec is not OpenAPI 3: {e}"))?;
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote!(crate::client::Inner));
    if mock {
        settings.with_derive("schemars::JsonSchema");
    }
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&openapi)
        .map_err(|e| format!("progenitor failed on the rewritten spec: {e}"))?;
    let mut file: syn::File = syn::parse2(http_methods::apply(reserved_idents::escape(tokens)))
        .map_err(|e| format!("progenitor emitted invalid Rust: {e}"))?;
    let responses = send::rewrite(&mut file, index_of)?;
    if responses.len() != index_of.len() {
        return Err(format!(
            "{} send() methods rewritten for {} generated operations",
            responses.len(),
            index_of.len()
        ));
    }
    builders::prune(&mut file)?;
    if !mock {
        derives::keep_for_responses(&mut file, responses.values(), hand_written_responses)?;
    }
    open_enums::apply(&mut file)?;
    lean_deserialize::apply(&mut file)?;
    any_of::apply(&mut file)?;
    let empty = uninhabited::find(&file);
    if !empty.is_empty() {
        return Err(format!(
            "generation produced uninhabited types (a contradictory allOf?): {empty:?}"
        ));
    }
    Ok(file)
}
