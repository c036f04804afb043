//! `POST /upload-image/{tenantId}`: public multipart image upload.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Multipart, Path, Query, State as AxumState};
use axum::routing::post;
use serde_json::json;

use super::auth;
use super::respond::{Answer, Failure, typed};
use super::store::{State, new_id};
use crate::types;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new().route("/upload-image/{tenant_id}", post(upload))
}

/// The sizes FastComments produces per `sizePreset`.
fn sizes(preset: Option<&str>) -> Result<&'static [i64], Failure> {
    match preset {
        None | Some("Default") => Ok(&[1000]),
        Some("CrossPlatform") => Ok(&[1000, 600, 300]),
        Some(other) => Err(Failure::bad_request(
            "invalid-size-preset",
            format!("sizePreset must be Default or CrossPlatform, not {other}."),
        )),
    }
}

async fn upload(
    AxumState(state): AxumState<Arc<State>>,
    Path(tenant_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    mut form: Multipart,
) -> Answer {
    auth::public(&state, &tenant_id)?;
    let sizes = sizes(q.get("sizePreset").map(String::as_str))?;
    let mut file = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Failure::bad_request("invalid-body", format!("invalid multipart body: {e}")))?
    {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(|e| {
                Failure::bad_request("invalid-body", format!("invalid file part: {e}"))
            })?;
            file = Some(bytes);
        }
    }
    let file = file.filter(|f| !f.is_empty()).ok_or_else(|| {
        Failure::bad_request("missing-file", "A non-empty file part is required.")
    })?;
    let id = new_id();
    state.with_tenant(&tenant_id, |t| t.images.push(file.to_vec()));
    let src =
        |size: i64| format!("https://cdn.fastcomments.com/images/{tenant_id}/{id}-{size}.webp");
    let media: Vec<_> = sizes
        .iter()
        .map(|&s| json!({ "w": s, "h": s, "src": src(s) }))
        .collect();
    // UploadImage is hand-written, not in the generated operations table: answered as
    // the type the facade's `upload_image` returns.
    typed::<types::UploadImageResponse>(
        json!({ "status": "success", "url": src(sizes[0]), "media": media }),
    )
}
