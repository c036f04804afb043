//! `webhook listen`: a local receiver that verifies each delivery with
//! `FASTCOMMENTS_API_SECRET` (the crate's `WebhookVerifier`: signature and timestamp, or
//! the older `token` header) and prints its event as one JSON line; what fails is
//! answered with the rejection's status (401 for credentials) and its reason, on stderr
//! too. `webhook sign`: a delivery signed as FastComments signs one, sent to a URL or
//! printed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use clap::{Arg, ArgMatches, Command};
use fastcomments::webhook::testing::WebhookSigner;
use fastcomments::webhook::{TOKEN_HEADER, WebhookEvent, WebhookVerifier};
use serde_json::{Value, json};

use crate::credentials::{API_SECRET, Credentials};
use crate::exit::{Failure, REFUSED, printable};

pub fn command() -> Command {
    Command::new("webhook")
        .about("Receive or send test webhook deliveries (secret: FASTCOMMENTS_API_SECRET)")
        .subcommand_required(true)
        .subcommand(
            Command::new("listen")
                .about("Verify deliveries on 127.0.0.1:PORT and print each event as a JSON line")
                .arg(
                    Arg::new("port")
                        .long("port")
                        .value_parser(clap::value_parser!(u16))
                        .default_value("0")
                        .help("The port [default: any free one, printed on stderr]"),
                ),
        )
        .subcommand(
            Command::new("sign")
                .about("A delivery signed with the API secret: sent to URL, or printed as JSON")
                .arg(
                    Arg::new("event")
                        .long("event")
                        .value_parser(["created", "updated", "deleted"])
                        .default_value("created"),
                )
                .arg(
                    Arg::new("body")
                        .long("body")
                        .value_name("JSON|@FILE|-")
                        .required(true)
                        .help("The comment, as FastComments sends it"),
                )
                .arg(
                    Arg::new("url")
                        .value_name("URL")
                        .help("Send the delivery to URL"),
                ),
        )
}

pub async fn run(args: &ArgMatches, credentials: &Credentials) -> Result<(), Failure> {
    let secret = credentials.require(API_SECRET)?;
    match args.subcommand().expect("a subcommand is required") {
        ("listen", listen_args) => listen(listen_args, secret).await,
        (_, sign_args) => sign(sign_args, secret).await,
    }
}

async fn listen(args: &ArgMatches, secret: &str) -> Result<(), Failure> {
    let port = *args.get_one::<u16>("port").expect("defaulted");
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| Failure::other(format!("listening on port {port}: {e}")))?;
    let verifier = Arc::new(WebhookVerifier::new(secret));
    let limit = verifier.body_limit();
    let app = axum::Router::new()
        .fallback(move |method: Method, headers: HeaderMap, body: Bytes| {
            let verifier = verifier.clone();
            async move { receive(&verifier, &method, &headers, &body) }
        })
        .layer(axum::extract::DefaultBodyLimit::max(
            limit.saturating_add(1),
        ));
    eprintln!("listening on http://{}", listener.local_addr()?);
    tokio::select! {
        served = axum::serve(listener, app) => served.map_err(Failure::other),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Verifies one delivery: prints its event and answers 200, or answers the rejection's
/// status with its reason.
fn receive(
    verifier: &WebhookVerifier,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, String) {
    match verifier.verify(method.as_str(), headers, body) {
        Ok(event) => {
            // Verified and answered 200 even when no one reads stdout any more.
            let _ = crate::output::line(event_json(&event));
            (StatusCode::OK, "ok\n".into())
        }
        Err(rejection) => {
            eprintln!(
                "refused {method} delivery: {}",
                printable(&rejection.to_string())
            );
            let status =
                StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, format!("{rejection}\n"))
        }
    }
}

/// `{"event": "created"|"updated"|"saved"|"deleted", "commentId", "comment"}`.
fn event_json(event: &WebhookEvent) -> Value {
    let (kind, comment) = match event {
        WebhookEvent::Created(c) => ("created", serde_json::to_value(c).ok()),
        WebhookEvent::Updated(c) => ("updated", serde_json::to_value(c).ok()),
        WebhookEvent::Saved(c) => ("saved", serde_json::to_value(c).ok()),
        WebhookEvent::Deleted { comment, .. } => (
            "deleted",
            comment.as_ref().and_then(|c| serde_json::to_value(c).ok()),
        ),
        _ => ("unknown", None),
    };
    json!({"event": kind, "commentId": event.comment_id(), "comment": comment})
}

async fn sign(args: &ArgMatches, secret: &str) -> Result<(), Failure> {
    let body = crate::input::read_argument(
        args.get_one::<String>("body").expect("required"),
        "the body",
    )?;
    serde_json::from_str::<Value>(&body)
        .map_err(|e| Failure::usage(format!("the body is not JSON: {e}")))?;
    let signer = WebhookSigner::new(secret);
    let delivery = match args.get_one::<String>("event").map(String::as_str) {
        Some("updated") => signer.updated(body),
        Some("deleted") => signer.deleted(body),
        _ => signer.created(body),
    };
    let Some(url) = args.get_one::<String>("url") else {
        // The `token` header is the secret itself: never printed.
        let headers: serde_json::Map<String, Value> = delivery
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != TOKEN_HEADER)
            .map(|(name, value)| {
                (
                    name.to_string(),
                    Value::String(value.to_str().unwrap_or_default().to_owned()),
                )
            })
            .collect();
        let body = String::from_utf8_lossy(&delivery.body);
        return crate::output::line(
            json!({"method": delivery.method, "headers": headers, "body": body}),
        );
    };
    let answer = delivery
        .request(&http_client()?, url)
        .send()
        .await
        .map_err(|e| Failure::new(5, format!("sending the delivery: {}", innermost_cause(&e))))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    let shown: String = text.trim().chars().take(200).collect();
    if status.is_success() {
        crate::output::line(format!("{} {shown}", status.as_u16()))
    } else {
        Err(Failure::new(
            REFUSED,
            format!("the receiver answered {status}: {shown}"),
        ))
    }
}

/// A client that gives up after 30 s, as the API client does.
fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::other(innermost_cause(&e)))
}

/// The innermost cause of a transport error, without its URL.
fn innermost_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
