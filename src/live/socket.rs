//! Where a live stream connects and what it asks: the subscription ids
//! (`GetCommentsPublic`), the socket (`/sub`), the event log (`GetEventLog`), all on the
//! hosts that fit the client (`LIVE.md`).

use serde::Deserialize;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, protocol::WebSocketConfig};

use super::session::{LogAnswer, LogPage};
use super::{LiveIds, Settings};
use crate::client::path_segment;
use crate::operations::{self, Operation};
use crate::{Client, Error};

/// The largest frame read from the socket (16 MiB): far above any event, bounded so a
/// hostile server cannot make the client buffer without end.
const MAX_FRAME: usize = 16 << 20;

/// What JavaScript's `encodeURIComponent` leaves as it is.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// What `urlIdWS` cannot carry into a query as it is: everything that would end or split
/// the parameter or the URL. `%` is not in it: the id is already percent-encoded by the
/// server and goes in as given (encoding it again joins another room).
const QUERY_BREAKERS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'`');

/// Why the socket did not open.
pub(crate) enum ConnectError {
    /// The server refused the subscription for good (4xx other than 408 and 429): the
    /// stream ends with it.
    Permanent(Error),
    /// Worth trying again after the backoff: refused, reset, 5xx, timeout.
    Transient(String),
}

impl ConnectError {
    pub(crate) fn from_handshake(error: tungstenite::Error) -> ConnectError {
        match error {
            tungstenite::Error::Http(response) => {
                let status = response.status().as_u16();
                let excerpt = response
                    .body()
                    .as_deref()
                    .map(crate::error::excerpt)
                    .unwrap_or_default();
                let error = Error::Http {
                    status,
                    excerpt,
                    retry_after: None,
                };
                // A refusal for good is a 4xx other than 408 and 429; a 5xx (a
                // proxy's 52x included) or a redirect is worth trying again.
                if (400..500).contains(&status) && status != 408 && status != 429 {
                    ConnectError::Permanent(error)
                } else {
                    ConnectError::Transient(error.to_string())
                }
            }
            other => ConnectError::Transient(other.to_string()),
        }
    }
}

/// The socket's base URL for a client whose API is at `api_base` (`LIVE.md`): the global
/// API's hosts and its data centres use `ws.fastcomments.com`, the EU's
/// `ws-eu.fastcomments.com`; any other base URL (the mock, a proxy) serves the socket
/// itself, at `/sub` under its path. In `http(s)` form: the scheme becomes `ws(s)` when
/// the URL is used, after the client's host routes.
pub(crate) fn socket_base(api_base: &str) -> Result<reqwest::Url, Error> {
    let invalid =
        || Error::InvalidRequest(format!("cannot derive a live-event host from {api_base:?}"));
    let url = reqwest::Url::parse(api_base).map_err(|_| invalid())?;
    let host = url.host_str().ok_or_else(invalid)?;
    let fastcomments = host == "fastcomments.com" || host.ends_with(".fastcomments.com");
    let base = if !fastcomments {
        return Ok(url);
    } else if host == "eu.fastcomments.com" || host.starts_with("eudc-") {
        "https://ws-eu.fastcomments.com"
    } else {
        "https://ws.fastcomments.com"
    };
    reqwest::Url::parse(base).map_err(|_| invalid())
}

/// The subscription URL: `/sub?urlId=<urlIdWS as given>&userIdWS=..&tenantIdWS=..`.
pub(crate) fn subscription_url(settings: &Settings) -> Result<String, Error> {
    let base = match &settings.socket_url {
        Some(url) => reqwest::Url::parse(url)
            .map_err(|e| Error::InvalidRequest(format!("invalid live socket URL: {e}")))?,
        None => socket_base(settings.client.base_url())?,
    };
    let base = settings
        .client
        .generated()
        .inner
        .0
        .routed(&base)
        .unwrap_or(base);
    let scheme = match base.scheme() {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        other => {
            return Err(Error::InvalidRequest(format!(
                "a live socket cannot use {other}://"
            )));
        }
    };
    let host = base.host_str().unwrap_or_default();
    let origin = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let path = base.path().trim_end_matches('/');
    let ids = &settings.ids;
    Ok(format!(
        "{scheme}://{origin}{path}/sub?urlId={}&userIdWS={}&tenantIdWS={}",
        percent_encoding::utf8_percent_encode(&ids.url_id_ws, QUERY_BREAKERS),
        percent_encoding::utf8_percent_encode(&ids.user_id_ws, URI_COMPONENT),
        percent_encoding::utf8_percent_encode(&ids.tenant_id_ws, URI_COMPONENT),
    ))
}

/// An open socket, with the server's clock from its handshake's `Date`.
pub(crate) type Opened = (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Option<i64>,
);

/// Opens the socket.
pub(crate) async fn connect(settings: &Settings) -> Result<Opened, ConnectError> {
    let url = subscription_url(settings).map_err(ConnectError::Permanent)?;
    let request = url.into_client_request()?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let open = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let (ws, response) = tokio::time::timeout(settings.connect_timeout, open)
        .await
        .map_err(|_| ConnectError::Transient("the socket did not open in time".into()))??;
    Ok((ws, crate::response::server_date_ms(response.headers())))
}

/// Reads the page's event log from `start` (inclusive; no end: up to the server's now),
/// on the client's own host, with the stream's short retry policy.
pub(crate) async fn read_log(settings: &Settings, start: i64) -> Result<LogPage, Error> {
    let operation = find("GetEventLog")?;
    let client = &settings.catch_up_client;
    let start = start.to_string();
    let query = [
        ("urlId", settings.url_id.as_str()),
        ("userIdWS", settings.ids.user_id_ws.as_str()),
        ("startTime", start.as_str()),
    ];
    let (answer, server_now) = get::<LogAnswer>(client, operation, &query).await?;
    Ok(LogPage::from_answer(answer, server_now))
}

/// The three subscription ids of `url_id` from `GetCommentsPublic`, with the server's
/// clock when it answered.
pub(crate) async fn fetch_ids(
    client: &Client,
    url_id: &str,
    sso: Option<&str>,
) -> Result<(LiveIds, Option<i64>), Error> {
    #[derive(Deserialize)]
    struct Presence {
        #[serde(rename = "tenantIdWS")]
        tenant_id_ws: Option<String>,
        #[serde(rename = "urlIdWS")]
        url_id_ws: Option<String>,
        #[serde(rename = "userIdWS")]
        user_id_ws: Option<String>,
    }
    let operation = find("GetCommentsPublic")?;
    let mut query = vec![("urlId", url_id), ("limit", "1")];
    if let Some(sso) = sso {
        query.push(("sso", sso));
    }
    let (answer, server_now) = get::<Presence>(client, operation, &query).await?;
    let missing = |field: &str| Error::Decode {
        message: format!("GetCommentsPublic answered no {field}: the page cannot be subscribed to"),
        excerpt: String::new(),
    };
    let ids = LiveIds {
        tenant_id_ws: answer
            .tenant_id_ws
            .or_else(|| client.tenant_id().map(str::to_owned))
            .ok_or_else(|| missing("tenantIdWS"))?,
        url_id_ws: answer.url_id_ws.ok_or_else(|| missing("urlIdWS"))?,
        user_id_ws: answer.user_id_ws.ok_or_else(|| missing("userIdWS"))?,
    };
    Ok((ids, server_now))
}

fn find(id: &str) -> Result<&'static Operation, Error> {
    operations::find(id).ok_or_else(|| Error::InvalidRequest(format!("the spec has no {id}")))
}

/// A `GET` of a public operation taking `{tenantId}` in its path, through the client's
/// one request path (host routes, retries, body limit, failures).
async fn get<T: serde::de::DeserializeOwned + Send + 'static>(
    client: &Client,
    operation: &'static Operation,
    query: &[(&str, &str)],
) -> Result<(T, Option<i64>), Error> {
    let tenant = client
        .tenant_id()
        .ok_or_else(|| Error::InvalidRequest("live events need the client's tenant id".into()))?;
    let segment = path_segment(operation, 0, tenant).map_err(Error::from)?;
    let path = operation.path.replace("{tenantId}", &segment);
    let generated = client.generated();
    let request = generated
        .client
        .get(format!("{}{path}", client.base_url()))
        .query(query)
        .header(reqwest::header::ACCEPT, "application/json")
        .build()
        .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
    crate::client::send_dated(generated, request, operation).await
}
