//! The integration endpoints (`/integrations/v1/*`), one call each, sent through the
//! client's one request path: the same retries, fallback host, body limit, `tracing`
//! span and [`crate::Error`] as every generated call. None of them is in `openapi.json`.
//! They take the token, never the API key.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::event::EventComment;
use super::event::{self, LogEvent, Undeliverable};
use super::token::{self, Token};
use super::wire::{
    Command, CommandsReply, CommentsReply, EventsReply, IdMapping, IdMappings, SecretReply,
    StreamReply, TokenStatus, UploadBatch, UploadComment, UploadReply, lenient_u64,
};
use crate::client::Secret;
use crate::operations::{Body, Implementation, Operation, TenantIdIn};
use crate::{Client, Error};

/// The integration endpoints for one token.
///
/// ```no_run
/// # async fn demo(client: fastcomments::Client) -> Result<(), fastcomments::Error> {
/// use fastcomments::integration::Token;
/// let api = client.integration(Token::generate());
/// println!("confirm at {}", api.confirmation_url());
/// let status = api.register("my-platform", "example.com", false).await?;
/// println!("validated: {}", status.is_token_validated);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct IntegrationApi {
    client: Client,
    token: Token,
}

impl Client {
    /// The integration endpoints for `token` (feature `integration`). No API key is
    /// needed or sent. For the whole protocol, see
    /// [`Integration`](crate::integration::Integration).
    pub fn integration(&self, token: Token) -> IntegrationApi {
        IntegrationApi {
            client: self.clone(),
            token,
        }
    }
}

/// One page of the event log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventsPage {
    /// The events that could be placed in the log, in order.
    pub events: Vec<LogEvent>,
    /// Events without a `createdAt`: `(_id, reason)`; they cannot be placed in the log.
    pub undeliverable: Vec<(String, String)>,
    /// Whether the log has more after this page.
    pub has_more: bool,
    /// The reply's other fields (`status`, ...), as sent.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One page of `GET /integrations/v1/comments`: FastComments' comments for the site.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommentsPage {
    /// The comments, in FastComments' order (the same as the event log's payload).
    pub comments: Vec<EventComment>,
    /// Items that could not be read as a comment: `(_id, reason)`. They count in `skip`.
    pub undecodable: Vec<(String, String)>,
    /// Whether more comments follow (ask again with `skip` past this page).
    pub has_more: bool,
    /// How many comments FastComments holds for the site, when `includeCount=true`.
    pub total_count: Option<u64>,
    /// The reply's other fields, as sent.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A reply of the older single-call flavour: commands and events at once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamPage {
    /// The commands.
    pub commands: Vec<Command>,
    /// The events, as in [`EventsPage`] (whose `extra` holds the reply's other
    /// fields).
    pub events: EventsPage,
}

/// The tenant's API secret (signs SSO payloads, checks webhooks). `Debug` hides it.
#[derive(Clone, Debug)]
pub struct ApiSecret(Secret<String>);

impl ApiSecret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0.0
    }
}

const fn operation(id: &'static str, method: &'static str, path: &'static str) -> Operation {
    Operation {
        id,
        method_name: id,
        method,
        path,
        requires_api_key: false,
        tenant_id: TenantIdIn::None,
        implementation: Implementation::HandWritten("fastcomments::integration::IntegrationApi"),
        group: "integrations",
        summary: "",
        parameters: &[],
        body: Body::None,
    }
}

static PUT_TOKEN: Operation = operation("IntegrationPutToken", "PUT", "/integrations/v1/token");
static COMMANDS: Operation =
    operation("IntegrationGetCommands", "GET", "/integrations/v1/commands");
static EVENTS: Operation = operation("IntegrationGetEvents", "GET", "/integrations/v1/events");
static STREAM: Operation = operation("IntegrationGetStream", "GET", "/integrations/v1/stream");
/// The server de-duplicates a repeated batch, so this POST is safe to send again (see
/// [`crate::retry::SAFE_POST_OPERATIONS`]).
pub(crate) static UPLOAD: Operation = operation(
    "IntegrationPostComments",
    "POST",
    "/integrations/v1/comments",
);
static COMMENTS: Operation =
    operation("IntegrationGetComments", "GET", "/integrations/v1/comments");
static COMMENT_IDS: Operation = operation(
    "IntegrationPatchCommentIds",
    "PATCH",
    "/integrations/v1/comment-ids",
);
static API_SECRET: Operation = operation(
    "IntegrationGetApiSecret",
    "GET",
    "/integrations/v1/api-secret",
);

impl IntegrationApi {
    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The page where a site admin confirms the token; show it while waiting.
    pub fn confirmation_url(&self) -> String {
        token::confirmation_url(self.client.base_url(), &self.token)
    }

    /// `PUT /integrations/v1/token`: announces the token (call it until it is validated).
    /// `skip_initial_sync` tells FastComments not to ask for the site's comments.
    pub async fn register(
        &self,
        integration_type: &str,
        domain: &str,
        skip_initial_sync: bool,
    ) -> Result<TokenStatus, Error> {
        let mut query = vec![("integrationType", integration_type), ("domain", domain)];
        if skip_initial_sync {
            query.push(("skipInitialSync", "true"));
        }
        self.call(&PUT_TOKEN, &query, None::<&()>).await
    }

    /// `GET /integrations/v1/commands`: what the server asks the integration to do.
    pub async fn commands(&self, from_date_time: i64) -> Result<Vec<Command>, Error> {
        let from = from_date_time.to_string();
        let reply: CommandsReply = self
            .call(&COMMANDS, &[("fromDateTime", &from)], None::<&()>)
            .await?;
        Ok(commands(reply.commands))
    }

    /// `GET /integrations/v1/events`: one page of the event log from `from_date_time`.
    pub async fn events(&self, from_date_time: i64) -> Result<EventsPage, Error> {
        let from = from_date_time.to_string();
        let reply: EventsReply = self
            .call(&EVENTS, &[("fromDateTime", &from)], None::<&()>)
            .await?;
        Ok(events_page(reply.events, reply.has_more, reply.extra))
    }

    /// `GET /integrations/v1/stream`: the older single call, commands and events at once.
    pub async fn stream(&self, last_fetch_date: i64) -> Result<StreamPage, Error> {
        let from = last_fetch_date.to_string();
        let reply: StreamReply = self
            .call(&STREAM, &[("lastFetchDate", &from)], None::<&()>)
            .await?;
        Ok(StreamPage {
            commands: commands(reply.commands),
            events: events_page(reply.events, reply.has_more, reply.extra),
        })
    }

    /// `POST /integrations/v1/comments`: uploads one batch; `count_remaining` is how many
    /// local comments are left after it. Returns `externalId → FastComments id`.
    pub async fn upload(
        &self,
        comments: &[UploadComment],
        count_remaining: u64,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        let batch = UploadBatch {
            count_remaining,
            comments,
        };
        let reply: UploadReply = self.call(&UPLOAD, &[], Some(&batch)).await?;
        Ok(reply.ids())
    }

    /// `GET /integrations/v1/comments`: one page of FastComments' comments for the site,
    /// after the first `skip`; `include_count` asks for `totalCount` (the WordPress
    /// plugin asks on the first page). For the whole download, exactly once, see
    /// [`Integration::download`](crate::integration::Integration::download).
    pub async fn comments(&self, skip: u64, include_count: bool) -> Result<CommentsPage, Error> {
        let skip = skip.to_string();
        let mut query = vec![("skip", skip.as_str())];
        if include_count {
            query.push(("includeCount", "true"));
        }
        let reply: CommentsReply = self.call(&COMMENTS, &query, None::<&()>).await?;
        let mut page = CommentsPage {
            comments: Vec::new(),
            undecodable: Vec::new(),
            has_more: reply.has_more,
            total_count: reply.total_count.as_ref().and_then(lenient_u64),
            extra: reply.extra,
        };
        for raw in reply.comments.unwrap_or_default() {
            let id = raw
                .get("_id")
                .or_else(|| raw.get("id"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            match serde_json::from_value::<EventComment>(raw) {
                Ok(comment) => page.comments.push(comment),
                Err(e) => page.undecodable.push((id, e.to_string())),
            }
        }
        Ok(page)
    }

    /// `PATCH /integrations/v1/comment-ids`: tells FastComments the site's ids of its
    /// comments (kept as each comment's `meta.wpId`). At most
    /// [`MAX_ID_MAPPINGS`](crate::integration::MAX_ID_MAPPINGS) (500) a call: FastComments
    /// answers 400 above it. Sending a mapping again is harmless.
    pub async fn comment_ids(&self, mappings: &[IdMapping]) -> Result<(), Error> {
        let _: serde_json::Value = self
            .call(&COMMENT_IDS, &[], Some(&IdMappings { mappings }))
            .await?;
        Ok(())
    }

    /// `GET /integrations/v1/api-secret`: the tenant's API secret.
    pub async fn api_secret(&self) -> Result<ApiSecret, Error> {
        let reply: SecretReply = self.call(&API_SECRET, &[], None::<&()>).await?;
        Ok(ApiSecret(Secret(reply.secret)))
    }

    async fn call<T, B>(
        &self,
        operation: &'static Operation,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned + Send + 'static,
        B: Serialize,
    {
        let generated = self.client.generated();
        let method = reqwest::Method::from_bytes(operation.method.as_bytes())
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let url = format!("{}{}", self.client.base_url(), operation.path);
        let mut builder = generated
            .client
            .request(method, url)
            .query(&[("token", self.token.expose())])
            .query(query)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            let json =
                serde_json::to_vec(body).map_err(|e| Error::InvalidRequest(e.to_string()))?;
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json);
        }
        let request = builder
            .build()
            .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
        crate::client::send(generated, request, operation).await
    }
}

fn commands(raw: Option<Vec<serde_json::Value>>) -> Vec<Command> {
    raw.unwrap_or_default()
        .into_iter()
        .map(Command::from_value)
        .collect()
}

fn events_page(
    raw: Option<Vec<serde_json::Value>>,
    has_more: bool,
    extra: serde_json::Map<String, serde_json::Value>,
) -> EventsPage {
    let mut events = Vec::new();
    let mut undeliverable = Vec::new();
    for raw in raw.unwrap_or_default() {
        match event::decode(raw) {
            Ok(event) => events.push(event),
            Err(Undeliverable { id, reason }) => undeliverable.push((id, reason)),
        }
    }
    EventsPage {
        events,
        undeliverable,
        has_more,
        extra,
    }
}
