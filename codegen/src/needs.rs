//! What the hand-written code names in the generated code, declared in one place and
//! checked right after generation.
//!
//! A spec older or newer than the hand-written code would otherwise fail to compile with
//! dozens of rustc errors pointing into the facade or the mock (72 on a 2025 spec before
//! this check). [`check`] turns the same mismatch into one message that names each
//! missing operation, type or field and the feature that needs it.
//!
//! Keep [`NEEDS`] in step with the code: `tests/needs.rs` scans `src/` and fails when the
//! code names a generated type or an operation id that is not declared here.

use std::collections::BTreeSet;

use quote::ToTokens;

use crate::postprocess::module;
use crate::spec::Operation;

/// One thing the hand-written code uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// An operation of the spec, by `operationId`: looked up at run time, or answered by
    /// a dedicated mock handler as the operation's response type.
    Operation(&'static str),
    /// A type of the generated `types` module, used by name.
    Type(&'static str),
    /// A field of a generated struct, read or written with this Rust type (paths
    /// shortened: `Option<i64>`, not `::std::option::Option<i64>`).
    Field(&'static str, &'static str, &'static str),
}

/// What one part of the hand-written code needs.
#[derive(Debug)]
pub struct Needs {
    /// The cargo feature that compiles the code; `None` for code always compiled.
    pub feature: Option<&'static str>,
    /// Where the code is, for the message.
    pub site: &'static str,
    /// What it names.
    pub needs: &'static [Need],
}

use Need::{Field, Operation as Op, Type};

/// Everything the hand-written code names in the generated code.
pub const NEEDS: &[Needs] = &[
    Needs {
        feature: None,
        site: "src/client/upload.rs",
        needs: &[
            Op("UploadImage"),
            Type("SizePreset"),
            Type("UploadImageResponse"),
        ],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/upload.rs",
        needs: &[Type("UploadImageResponse")],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock handlers, answering as these operations",
        needs: &[
            Op("AddPage"),
            Op("AddSSOUser"),
            Op("DeleteComment"),
            Op("DeleteCommentVote"),
            Op("DeletePage"),
            Op("DeletePendingWebhookEvent"),
            Op("DeleteSSOUser"),
            Op("GetAuditLogs"),
            Op("GetComment"),
            Op("GetComments"),
            Op("GetCommentsPublic"),
            Op("GetPageByURLId"),
            Op("GetPages"),
            Op("GetPendingWebhookEventCount"),
            Op("GetSSOUserByEmail"),
            Op("GetSSOUserById"),
            Op("GetSSOUsers"),
            Op("GetVotes"),
            Op("GetVotesForUser"),
            Op("PatchPage"),
            Op("PatchSSOUser"),
            Op("PutSSOUser"),
            Op("SaveComment"),
            Op("UpdateComment"),
            Op("VoteComment"),
        ],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/comments.rs",
        needs: &[
            Type("CreateCommentParams"),
            Field("CreateCommentParams", "comment", "String"),
            Field("CreateCommentParams", "commenter_name", "String"),
            Field("CreateCommentParams", "url", "String"),
            Field("CreateCommentParams", "url_id", "String"),
            Field("CreateCommentParams", "locale", "String"),
            Field("CreateCommentParams", "date", "Option<i64>"),
            Field("CreateCommentParams", "approved", "Option<bool>"),
            Field("CreateCommentParams", "verified", "Option<bool>"),
            Field("CreateCommentParams", "votes", "Option<i32>"),
            Field("CreateCommentParams", "votes_up", "Option<i32>"),
            Field("CreateCommentParams", "votes_down", "Option<i32>"),
            Field("CreateCommentParams", "feedback_ids", "Vec<String>"),
            Field("CreateCommentParams", "commenter_email", "Option<String>"),
            Field("CreateCommentParams", "commenter_link", "Option<String>"),
            Field("CreateCommentParams", "user_id", "Option<String>"),
            Field("CreateCommentParams", "parent_id", "Option<String>"),
            Field("CreateCommentParams", "avatar_src", "Option<String>"),
            Field("CreateCommentParams", "page_title", "Option<String>"),
            Type("UpdatableCommentParams"),
            Field("UpdatableCommentParams", "comment", "Option<String>"),
            Field("UpdatableCommentParams", "comment_html", "Option<String>"),
        ],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/public.rs",
        needs: &[
            Op("CreateCommentPublic"),
            Op("GetCommentsPublic"),
            Type("CommentData"),
            Field("CommentData", "comment", "String"),
            Field("CommentData", "commenter_name", "String"),
            Field("CommentData", "commenter_email", "Option<String>"),
            Field("CommentData", "commenter_link", "Option<String>"),
            Field("CommentData", "url", "String"),
            Field("CommentData", "date", "Option<i64>"),
            Field("CommentData", "user_id", "Option<String>"),
            Field("CommentData", "parent_id", "Option<String>"),
            Field("CommentData", "avatar_src", "Option<String>"),
            Field("CommentData", "page_title", "Option<String>"),
            Field("CommentData", "feedback_ids", "Vec<String>"),
        ],
    },
    Needs {
        feature: Some("live"),
        site: "src/live/socket.rs (the subscription ids and the catch-up)",
        needs: &[Op("GetCommentsPublic"), Op("GetEventLog")],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/event_log.rs",
        needs: &[Op("GetEventLog"), Op("GetGlobalEventLog")],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/pages.rs",
        needs: &[
            Type("CreateApiPageData"),
            Field("CreateApiPageData", "url_id", "String"),
            Field("CreateApiPageData", "title", "String"),
            Field("CreateApiPageData", "url", "String"),
            Field(
                "CreateApiPageData",
                "accessible_by_group_ids",
                "Vec<String>",
            ),
            Type("UpdateApiPageData"),
        ],
    },
    Needs {
        feature: Some("mock"),
        site: "src/mock/sso_users.rs",
        needs: &[
            Type("CreateApissoUserData"),
            Field("CreateApissoUserData", "id", "String"),
            Field("CreateApissoUserData", "username", "String"),
            Field("CreateApissoUserData", "email", "String"),
            Type("UpdateApissoUserData"),
        ],
    },
];

/// Checks the generated client `file` of the spec whose operations are `operations`
/// against [`NEEDS`], for the features `enabled` says are on. On a mismatch, one message
/// with every missing item.
pub fn check(
    operations: &[Operation<'_>],
    file: &syn::File,
    enabled: impl Fn(&str) -> bool,
) -> Result<(), String> {
    let problems = unmet(operations, file, enabled);
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "this spec lacks what the crate's hand-written code needs:\n{}\n\
         The spec is older or newer than this version of the crate supports (README, \
         \"When the spec changes\"): build without the named feature, or adapt the code \
         at the named site and its entry in codegen/src/needs.rs.",
        problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

/// Each unmet need, as a line: `feature mock (src/mock/comments.rs): ...`.
pub fn unmet(
    operations: &[Operation<'_>],
    file: &syn::File,
    enabled: impl Fn(&str) -> bool,
) -> Vec<String> {
    let ids: BTreeSet<&str> = operations.iter().map(|op| op.id).collect();
    let types = module(file, "types").unwrap_or_default();
    let mut out = Vec::new();
    for group in NEEDS {
        if !group.feature.is_none_or(&enabled) {
            continue;
        }
        let feature = group
            .feature
            .map_or_else(|| "always built".to_owned(), |f| format!("feature `{f}`"));
        for need in group.needs {
            let problem = match *need {
                Op(id) if !ids.contains(id) => Some(format!("operation `{id}` is not in the spec")),
                Type(name)
                    if !types
                        .iter()
                        .any(|item| item_name(item).as_deref() == Some(name)) =>
                {
                    Some(format!("type `types::{name}` is not generated"))
                }
                Field(ty, field, rust) => field_problem(types, ty, field, rust),
                _ => None,
            };
            if let Some(problem) = problem {
                out.push(format!("{feature} ({}): {problem}", group.site));
            }
        }
    }
    out
}

fn field_problem(types: &[syn::Item], ty: &str, field: &str, rust: &str) -> Option<String> {
    let fields = types.iter().find_map(|item| match item {
        syn::Item::Struct(s) if s.ident == ty => Some(&s.fields),
        _ => None,
    })?;
    let Some(found) = fields
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == field))
    else {
        return Some(format!("`types::{ty}` has no field `{field}`"));
    };
    let found = short(&found.ty);
    (found != rust).then(|| format!("`types::{ty}::{field}` is `{found}`, the code needs `{rust}`"))
}

/// A type as the declarations write it: no spaces, no `::std::...::` paths.
fn short(ty: &syn::Type) -> String {
    let mut text: String = ty
        .to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for path in ["::std::option::", "::std::string::", "::std::vec::"] {
        text = text.replace(path, "");
    }
    text
}

fn item_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(s) => Some(s.ident.to_string()),
        syn::Item::Enum(e) => Some(e.ident.to_string()),
        syn::Item::Type(t) => Some(t.ident.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> serde_json::Value {
        json!({ "paths": { "/upload-image/{tenantId}": { "post": { "operationId": "UploadImage" } } } })
    }

    #[test]
    fn what_is_missing_is_named_once_each_with_its_feature_and_site() {
        let spec = spec();
        let operations = crate::spec::operations(&spec).unwrap();
        let file: syn::File = syn::parse_quote! {
            pub mod types {
                pub enum SizePreset { Default }
                pub struct CreateCommentParams { pub comment: ::std::string::String, pub date: ::std::option::Option<f64> }
            }
        };
        let always = unmet(&operations, &file, |_| false);
        assert_eq!(
            always,
            [
                "always built (src/client/upload.rs): type `types::UploadImageResponse` is not generated"
            ]
        );
        let with_mock = unmet(&operations, &file, |f| f == "mock");
        assert!(with_mock.contains(&"feature `mock` (src/mock/comments.rs): `types::CreateCommentParams::date` is `Option<f64>`, the code needs `Option<i64>`".to_owned()));
        assert!(with_mock.contains(&"feature `mock` (src/mock/comments.rs): `types::CreateCommentParams` has no field `url`".to_owned()));
        assert!(
            with_mock
                .iter()
                .any(|p| p.ends_with("operation `GetVotes` is not in the spec"))
        );
        assert!(
            !with_mock.iter().any(|p| p.contains("field `comment`")),
            "a matching field is no problem"
        );
        let message = check(&operations, &file, |f| f == "mock").unwrap_err();
        assert_eq!(message.matches("\n  - ").count(), with_mock.len());
    }
}
