//! Tenant and API key checks, as the real service does them.

use std::collections::HashMap;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use super::respond::Failure;
use super::store::State;

/// Checks a secured call: `tenantId` from the query, the key from the `x-api-key`
/// header or the `API_KEY` query parameter. Returns the tenant id.
pub(crate) fn secured(
    state: &State,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<String, Failure> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query.get("API_KEY").map(String::as_str))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                "missing-api-key",
                "An API key is required.",
            )
        })?;
    let tenant_id = query
        .get("tenantId")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::bad_request("invalid-tenant-id", "tenantId is required."))?;
    let expected = state
        .with_tenant(tenant_id, |t| t.api_key.clone())
        .ok_or_else(|| Failure::bad_request("invalid-tenant-id", "Unknown tenant."))?;
    if key != expected {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "invalid-api-key",
            "The API key is not valid for this tenant.",
        ));
    }
    Ok(tenant_id.clone())
}

/// Checks a public call: the tenant in the path must exist; no key is needed.
pub(crate) fn public(state: &State, tenant_id: &str) -> Result<(), Failure> {
    state
        .with_tenant(tenant_id, |_| ())
        .ok_or_else(|| Failure::bad_request("invalid-tenant-id", "Unknown tenant."))
}

/// A secured call's tenant, checked, and its query parameters: the extractor of every
/// handler that needs the API key.
pub(crate) struct Secured {
    pub(crate) tenant_id: String,
    pub(crate) query: HashMap<String, String>,
}

impl FromRequestParts<Arc<State>> for Secured {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, Failure> {
        let Query(query) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(|e| Failure::bad_request("invalid-query", e.body_text()))?;
        let tenant_id = secured(state, &parts.headers, &query)?;
        Ok(Secured { tenant_id, query })
    }
}
