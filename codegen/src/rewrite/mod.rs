//! The rewrites that turn the published spec into one progenitor generates correct code
//! from. Each module is one rewrite: what progenitor does wrong without it, what it
//! loses, and tests on small spec fragments. All are deterministic and idempotent.

pub mod all_of;
pub mod default_response;
pub mod error_variants;
pub mod implicit_names;
pub mod multipart;
pub mod string_enum_any_of;
pub mod unique_titles;
pub mod unknown_fields;

use std::collections::BTreeSet;

use serde_json::Value;

/// Applies every rewrite, in an order where none undoes another: operations are removed
/// first (so nothing else looks at them), error variants dropped before implicit names
/// are checked (most collisions were `anyOf [X, APIError]` answers), colliding implicit
/// names titled before titles are made unique, titles made unique before anything adds
/// schemas, and the `allOf` merge comes before the enum merge it may expose. Returns the
/// ids of the operations removed (each must be written by hand in the facade).
pub fn apply_all(spec: &mut Value, hand_written: &[&str]) -> Result<BTreeSet<String>, String> {
    let removed = multipart::apply(spec, hand_written)?;
    error_variants::apply(spec);
    implicit_names::apply(spec);
    unique_titles::apply(spec);
    unknown_fields::apply(spec);
    all_of::apply(spec);
    string_enum_any_of::apply(spec);
    default_response::apply(spec);
    Ok(removed)
}
