//! The `fastcomments` binary run as a process against the embedded mock server.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};

use fastcomments::mock::{Fault, FaultRule, MockServer};
use fastcomments::operations::{Body, OPERATIONS};
use fastcomments::webhook::testing::WebhookSigner;
use futures::TryStreamExt;
use serde_json::Value;

const TENANT: &str = "demo";
const KEY: &str = "demo-key";

fn kebab(name: &str) -> String {
    heck::ToKebabCase::to_kebab_case(name)
}

/// The binary, with the mock's credentials in its environment and nothing else of ours.
fn fastcomments(server: &MockServer) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("FASTCOMMENTS_")) {
        command.env_remove(name);
    }
    command
        .env("FASTCOMMENTS_BASE_URL", server.base_url())
        .env("FASTCOMMENTS_TENANT_ID", TENANT)
        .env("FASTCOMMENTS_API_KEY", KEY)
        .env("FASTCOMMENTS_API_SECRET", KEY)
        .stdin(Stdio::null());
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Runs `command` with `input` on its stdin.
async fn run_with_stdin(mut command: Command, input: String) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

async fn mock() -> MockServer {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, KEY);
    server.set_seed(7);
    server
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_spec_has_a_subcommand_in_its_group() {
    let server = mock().await;
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for op in OPERATIONS {
        expected
            .entry(kebab(op.group))
            .or_default()
            .insert(kebab(op.id));
    }
    let help = run({
        let mut c = fastcomments(&server);
        c.arg("--help");
        c
    })
    .await;
    let listed = stdout(&help);
    for (group, commands) in &expected {
        assert!(
            listed.contains(&format!("\n  {group} ")),
            "{group} not in --help:\n{listed}"
        );
        let output = run({
            let mut c = fastcomments(&server);
            c.args([group, "--help"]);
            c
        })
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let found: BTreeSet<String> = stdout(&output)
            .lines()
            .skip_while(|l| *l != "Commands:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.strip_prefix("  "))
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_owned)
            .collect();
        assert_eq!(&found, commands, "group {group}");
    }
    assert_eq!(
        expected.values().map(BTreeSet::len).sum::<usize>(),
        OPERATIONS.len()
    );
}

/// A path percent-decoded: `@` may be sent encoded or not.
fn decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The flags of an example request: every parameter it names, arrays repeated.
fn flags(params: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in params {
        let values = match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            out.push(format!("--{}", kebab(name)));
            out.push(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_runs_from_the_shell_with_its_flags_and_body() {
    let server = mock().await;
    let mut groups_called = BTreeSet::new();
    let mut with_body = 0;
    for op in OPERATIONS.iter().filter(|op| op.body != Body::Multipart) {
        let example = server.example_request(TENANT, op.id).unwrap();
        server.clear_requests();
        let mut command = fastcomments(&server);
        command
            .args([kebab(op.group), kebab(op.id)])
            .args(flags(&example.params));
        if let Some(body) = &example.body {
            command.args(["--body", &body.to_string()]);
            with_body += 1;
        }
        let output = run(command).await;
        assert!(
            output.status.success(),
            "{}: exit {:?}: {}",
            op.id,
            output.status.code(),
            stderr(&output)
        );
        serde_json::from_slice::<Value>(&output.stdout)
            .unwrap_or_else(|e| panic!("{}: not one JSON document when piped: {e}", op.id));
        let requests = server.requests();
        let sent = requests
            .iter()
            .find(|r| r.operation_id == Some(op.id))
            .unwrap_or_else(|| panic!("{}: not received: {requests:?}", op.id));
        assert_eq!(decoded(&sent.path), decoded(&example.path), "{}", op.id);
        for (name, value) in &example.query {
            assert_eq!(
                sent.query_param(name).as_ref(),
                Some(value),
                "{}: {name}",
                op.id
            );
        }
        groups_called.insert(op.group);
    }
    let groups: BTreeSet<&str> = OPERATIONS.iter().map(|op| op.group).collect();
    assert_eq!(groups_called, groups);
    assert!(with_body > 40, "{with_body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_comes_inline_from_a_file_or_from_stdin_and_a_list_prints_as_a_table() {
    let server = mock().await;
    let example = server.example_request(TENANT, "SaveComment").unwrap();
    let body = example.body.clone().unwrap();
    let file = std::env::temp_dir().join(format!("fc-cli-body-{}.json", fastrand_suffix()));
    std::fs::write(&file, body.to_string()).unwrap();
    for source in ["@file", "stdin"] {
        let mut command = fastcomments(&server);
        command
            .args(["comments", "save-comment"])
            .args(flags(&example.params));
        let output = if source == "stdin" {
            run_with_stdin(command, body.to_string()).await
        } else {
            command.args(["--body", &format!("@{}", file.display())]);
            run(command).await
        };
        assert!(output.status.success(), "{source}: {}", stderr(&output));
        let saved: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(saved["comment"]["comment"], body["comment"], "{source}");
    }
    std::fs::remove_file(file).unwrap();
    server.seed_comments(TENANT, "tabled", 3);
    let mut command = fastcomments(&server);
    command.args([
        "comments",
        "get-comments",
        "--url-id",
        "tabled",
        "-o",
        "table",
    ]);
    let output = run(command).await;
    let table = stdout(&output);
    assert_eq!(
        table.lines().filter(|l| l.contains("Comment ")).count(),
        3,
        "{table}"
    );
    assert!(table.lines().next().unwrap().starts_with('┌'), "{table}");
}

fn fastrand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(1);
    hasher.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_error_prints_one_line_and_exits_with_its_code() {
    let server = mock().await;
    let case = |args: &[&str]| {
        let mut command = fastcomments(&server);
        command.args(args);
        command
    };
    let mut cases: Vec<(&str, Command, i32)> = vec![
        ("usage", case(&["comments", "get-comments", "--nope"]), 2),
        ("usage: an empty page to tail", case(&["tail", ""]), 2),
        (
            "usage: an empty page to export",
            case(&["export", "--url-id", ""]),
            2,
        ),
        (
            "api",
            case(&["comments", "get-comment", "--id", "missing"]),
            3,
        ),
        (
            "invalid request",
            case(&["comments", "get-comments", "--limit", "ten"]),
            9,
        ),
        (
            "invalid path",
            case(&["comments", "delete-comment", "--id", ".."]),
            10,
        ),
    ];
    let mut missing_key = case(&["comments", "get-comments"]);
    missing_key.env_remove("FASTCOMMENTS_TENANT_ID");
    cases.push(("no tenant", missing_key, 2));
    let mut no_key = case(&["comments", "get-comments"]);
    no_key.env_remove("FASTCOMMENTS_API_KEY");
    cases.push(("no API key", no_key, 2));
    let mut no_secret = case(&["sso", "sign", "--logged-out"]);
    no_secret.env_remove("FASTCOMMENTS_API_SECRET");
    cases.push(("no secret", no_secret, 2));
    let mut not_a_url = case(&["comments", "get-comments"]);
    not_a_url.env("FASTCOMMENTS_BASE_URL", "notaurl");
    cases.push(("a base URL that is no URL", not_a_url, 2));
    let mut closed = case(&["--no-retry", "comments", "get-comments"]);
    closed.env("FASTCOMMENTS_BASE_URL", "http://127.0.0.1:9");
    cases.push(("transport", closed, 5));
    for (name, command, code) in cases {
        let output = run(command).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        if !name.starts_with("usage") {
            let text = stderr(&output);
            assert_eq!(text.lines().count(), 1, "{name}: {text}");
            assert!(text.starts_with("error: "), "{name}: {text}");
        }
        assert!(!stderr(&output).contains(KEY), "{name}");
    }
    // A body and the credentials cannot both come from stdin.
    let output = run(case(&["--credentials", "-", "comments", "save-comment"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("stdin holds the credentials"),
        "{}",
        stderr(&output)
    );
    let faults: [(&str, Fault, &[&str], i32); 3] = [
        ("http", Fault::Html { status: 502 }, &["--no-retry"], 4),
        ("decode", Fault::Malformed, &["--no-retry"], 6),
        (
            "gave up",
            Fault::RetryAfter {
                status: 503,
                retry_after: "0".into(),
            },
            &[],
            11,
        ),
    ];
    for (name, fault, extra, code) in faults {
        server.clear_faults();
        server.inject(FaultRule::new(fault).path("/api/v1/comments").always());
        let output = run(case(&[extra, &["comments", "get-comments"][..]].concat())).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        // Each retry is told as it starts waiting; the error is the last line.
        let text = stderr(&output);
        let (error, retries) = text
            .trim_end()
            .lines()
            .collect::<Vec<_>>()
            .split_last()
            .map(|(e, r)| (*e, r.to_vec()))
            .unwrap();
        assert!(error.starts_with("error: "), "{name}: {text}");
        let expected = if code == 11 { 4 } else { 0 };
        assert_eq!(retries.len(), expected, "{name}: {text}");
        assert!(
            retries
                .iter()
                .all(|r| r.starts_with("GetComments: attempt ") && r.ends_with("retrying in 0 s")),
            "{name}: {text}"
        );
    }
}

/// Every comment of the tenant, read straight from the mock through the library.
async fn stored_ids(server: &MockServer) -> Vec<String> {
    let client = server.client(TENANT, KEY).unwrap();
    let comments: Vec<_> = client
        .get_comments()
        .direction(fastcomments::types::SortDirections::Of)
        .stream()
        .depth(0)
        .try_collect()
        .await
        .unwrap();
    comments.into_iter().map(|c| c.id).collect()
}

fn exported_ids(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("every line is whole JSON");
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_100000_comments_equals_the_store() {
    let server = mock().await;
    server.seed_comments(TENANT, "big", 100_000);
    let file = std::env::temp_dir().join(format!("fc-export-{}.jsonl", fastrand_suffix()));
    let mut command = fastcomments(&server);
    command.args(["export", "--file"]).arg(&file);
    let output = run(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "no progress bar when not a terminal");
    let exported = exported_ids(&file);
    assert_eq!(exported.len(), 100_000);
    assert_eq!(exported, stored_ids(&server).await);
    std::fs::remove_file(file).unwrap();
}

fn line_count(path: &std::path::Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_halfway_while_comments_are_added_resumes_with_nothing_missing_or_doubled()
{
    let server = mock().await;
    server.seed_comments(TENANT, "big", 20_000);
    server.set_latency(std::time::Duration::from_millis(5));
    let file = std::env::temp_dir().join(format!("fc-resume-{}.jsonl", fastrand_suffix()));
    let mut command = fastcomments(&server);
    command
        .args(["export", "--file"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child: Child = command.spawn().unwrap();
    let mut added = 0;
    while line_count(&file) < 10_000 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before it was killed"
        );
        server.seed_comments(TENANT, "live", 1);
        added += 1;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = line_count(&file);
    assert!(written < 20_000, "{written}");
    assert!(added > 0);
    server.set_latency(std::time::Duration::ZERO);
    let mut resume = fastcomments(&server);
    resume.args(["export", "--resume", "--file"]).arg(&file);
    let output = run(resume).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = exported_ids(&file);
    let stored = stored_ids(&server).await;
    assert_eq!(stored.len(), 20_000 + added);
    let unique: BTreeSet<&String> = exported.iter().collect();
    assert_eq!(unique.len(), exported.len(), "doubled comments");
    assert_eq!(exported, stored);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_bar_is_drawn_on_a_terminal_and_absent_when_piped() {
    let server = mock().await;
    server.seed_comments(TENANT, "p", 2_000);
    server.set_latency(std::time::Duration::from_millis(150));
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut command = fastcomments(&server);
    command
        .args(["export", "--depth", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(pty.slave));
    let mut child = command.spawn().unwrap();
    drop(command);
    let mut master = std::fs::File::from(pty.master);
    let drawn = tokio::task::spawn_blocking(move || {
        let mut drawn = Vec::new();
        let mut buffer = [0u8; 4096];
        // Read until the child closes its end (EIO on Linux).
        while let Ok(n) = master.read(&mut buffer) {
            if n == 0 {
                break;
            }
            drawn.extend_from_slice(&buffer[..n]);
        }
        child.wait().unwrap();
        String::from_utf8_lossy(&drawn).into_owned()
    })
    .await
    .unwrap();
    assert!(drawn.contains(" comments "), "{drawn:?}");
    assert!(drawn.contains("/s"), "the rate: {drawn:?}");
    assert!(drawn.contains("2000 comments written"), "{drawn:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_listen_prints_a_signed_delivery_and_refuses_a_tampered_one() {
    let server = mock().await;
    let mut command = fastcomments(&server);
    command
        .env("FASTCOMMENTS_API_SECRET", "whsec")
        .args(["webhook", "listen"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    errors.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let signer = WebhookSigner::new("whsec");
    let good = signer.created(r#"{"id": "c1", "commentHTML": "<p>hi</p>"}"#);
    let answer = good.request(&http, &url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let tampered = signer.created(r#"{"id": "c2"}"#).tampered();
    let answer = tampered.request(&http, &url).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer.text().await.unwrap().contains("signature"));
    // `webhook sign URL` is accepted with the secret and refused (exit 12) without it.
    for (secret, code) in [("whsec", 0), ("other", 12)] {
        let mut sign = fastcomments(&server);
        sign.env("FASTCOMMENTS_API_SECRET", secret).args([
            "webhook",
            "sign",
            "--event",
            "created",
            "--body",
            r#"{"id": "c3"}"#,
            &url,
        ]);
        let output = run(sign).await;
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    }
    let mut refused = String::new();
    errors.read_line(&mut refused).unwrap();
    assert!(refused.starts_with("refused"), "{refused}");
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let events: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["commentId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_token_from_the_shell_signs_a_user_in_and_a_wrong_secret_is_refused() {
    let server = mock().await;
    server.seed_comments(TENANT, "page", 1);
    for (secret, code) in [(KEY, 0), ("not-the-key", 3)] {
        let mut sign = fastcomments(&server);
        sign.env("FASTCOMMENTS_API_SECRET", secret).args([
            "sso",
            "sign",
            "--user",
            r#"{"id": "u1", "email": "ada@example.com", "username": "ada"}"#,
        ]);
        let token = stdout(&run(sign).await).trim().to_owned();
        let mut read = fastcomments(&server);
        read.args([
            "public",
            "get-comments-public",
            "--url-id",
            "page",
            "--sso",
            &token,
        ]);
        let output = run(read).await;
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        if code == 0 {
            let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(answer["user"]["username"], "ada", "{answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_command_prints_credentials_that_the_other_commands_take() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    command
        .args(["mock", "--comments", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut credentials = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        credentials.push_str(&line);
        credentials.push('\n');
        if line.starts_with("FASTCOMMENTS_API_SECRET=") {
            break;
        }
    }
    let mut read = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    read.args([
        "--credentials",
        "-",
        "comments",
        "get-comments",
        "--url-id",
        "welcome",
    ]);
    let output = run_with_stdin(read, credentials).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["comments"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_a_new_comment_as_one_json_line() {
    let server = mock().await;
    let mut command = fastcomments(&server);
    command
        .args(["tail", "news"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    while server.live_subscribers(TENANT).is_empty() {
        assert!(child.try_wait().unwrap().is_none());
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let client = server.client(TENANT, KEY).unwrap();
    let example = server.example_request(TENANT, "SaveComment").unwrap();
    let mut body: fastcomments::types::CreateCommentParams = example.body().unwrap();
    body.url_id = "news".into();
    let saved = client.save_comment().body(body).send().await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::task::spawn_blocking(move || lines.next().unwrap().unwrap())
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], "new-comment", "{event}");
    assert_eq!(
        event["comment"]["_id"],
        saved.comment.id.as_str(),
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_refuses_a_password_on_the_command_line() {
    let server = mock().await;
    let mut command = fastcomments(&server);
    command.args(["sync", "--db", "postgres://fc:hunter2@127.0.0.1/fc"]);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(!stderr(&output).contains("hunter2"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_prints_the_confirmation_url_and_mirrors_the_sites_events_once_confirmed() {
    let server = mock().await;
    let db = std::env::temp_dir().join(format!("fc-sync-{}.sqlite", fastrand_suffix()));
    let mut command = fastcomments(&server);
    command
        .args(["sync", "--once", "--site", "blog", "--db"])
        .arg(format!("sqlite://{}", db.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::task::spawn_blocking(move || {
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    })
    .await
    .unwrap();
    let (first, lines) = first;
    let url = first
        .strip_prefix("confirm the integration at ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let token = url
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    server.confirm_integration(token, TENANT);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    server.create_integration_testing_events(TENANT, now_ms);
    let rest: Vec<String> = tokio::task::spawn_blocking(move || {
        let rest = lines.map(Result::unwrap).collect();
        assert!(child.wait().unwrap().success());
        rest
    })
    .await
    .unwrap();
    assert!(rest.iter().any(|l| l == "confirmed"), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("applied 9 events")),
        "{rest:?}"
    );
    // The testing events net two new comments, mirrored into the SQL site.
    let sql = fastcomments::sql::SqlDb::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let site = fastcomments::sql::SqlSite::open(sql, "blog").await.unwrap();
    assert_eq!(site.comments().await.unwrap().len(), 2);
    // Once confirmed, the URL (it holds the integration token) is not printed again.
    let mut again = fastcomments(&server);
    again
        .args(["sync", "--once", "--site", "blog", "--db"])
        .arg(format!("sqlite://{}", db.display()));
    let output = run(again).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains(token), "{}", stdout(&output));
    std::fs::remove_file(db).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_early_ends_the_export_quietly() {
    let server = mock().await;
    server.seed_comments(TENANT, "post", 20_000);
    let mut command = fastcomments(&server);
    command
        .arg("export")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // `export | head -1`: one line read, then the pipe closed.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let output = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        drop(out);
        (first, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    let (first, output) = output;
    assert!(first.starts_with('{'), "{first}");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_export_keeps_comments_listed_out_of_date_order_and_before_1970() {
    let server = mock().await;
    server.seed_comments(TENANT, "page", 5);
    let client = server.client(TENANT, KEY).unwrap();
    let example = server.example_request(TENANT, "SaveComment").unwrap();
    for date in [-1_000, 1_000] {
        let mut body: fastcomments::types::CreateCommentParams = example.body().unwrap();
        body.date = Some(date);
        client.save_comment().body(body).send().await.unwrap();
    }
    let file = std::env::temp_dir().join(format!("fc-order-{}.jsonl", fastrand_suffix()));
    let mut command = fastcomments(&server);
    command.args(["export", "--file"]).arg(&file);
    let output = run(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = exported_ids(&file);
    assert_eq!(exported.len(), 7);
    assert_eq!(exported, stored_ids(&server).await);
    std::fs::remove_file(file).unwrap();
    // The mock lists by date; a service that does not (a page out of date order) loses
    // nothing either.
    let shuffled = hostile_server(|| {
        let comments: Vec<Value> = [5_000i64, -1_000, 1_000]
            .iter()
            .map(
                |date| serde_json::json!({"_id": format!("c{date}"), "date": date, "comment": "x"}),
            )
            .collect();
        comments_answer(comments)
    });
    let mut command = fastcomments(&server);
    command
        .arg("export")
        .env("FASTCOMMENTS_BASE_URL", &shuffled);
    let output = run(command).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let ids: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["_id"].clone())
        .collect();
    assert_eq!(ids, ["c5000", "c-1000", "c1000"]);
}

/// A `GetComments` answer holding `comments`, as raw HTTP.
fn comments_answer(comments: Vec<Value>) -> Vec<u8> {
    let body = serde_json::json!({"status": "success", "comments": comments}).to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A server on loopback that reads each request's head and answers `answer` to it, then
/// closes the connection; its base URL.
fn hostile_server(answer: impl Fn() -> Vec<u8> + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            use std::io::Write;
            let _ = stream.write_all(&answer());
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_and_a_server_that_ignores_paging_have_their_exit_codes() {
    let server = mock().await;
    // 100 MB announced, over the client's 64 MiB limit: refused before it is read.
    let huge = hostile_server(|| {
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n{\"status\":\"success\",\"comments\":[".to_vec()
    });
    let mut command = fastcomments(&server);
    command
        .args(["comments", "get-comments"])
        .env("FASTCOMMENTS_BASE_URL", &huge);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(7), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    // The same full page whatever `skip` asks for: the export stops with NoProgress
    // after the first page instead of writing it forever.
    let same_page = hostile_server(|| {
        let comments: Vec<Value> = (0..100)
            .map(|n| {
                serde_json::json!({
                    "_id": format!("c{n}"), "tenantId": TENANT, "urlId": "p",
                    "date": 1_700_000_000_000i64 + n, "comment": "same", "commentHTML": "same",
                    "approved": true, "commenterName": "a"
                })
            })
            .collect();
        comments_answer(comments)
    });
    let mut command = fastcomments(&server);
    command
        .args(["export"])
        .env("FASTCOMMENTS_BASE_URL", &same_page);
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 100, "the first page, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_since_replays_the_pages_past_events_first() {
    let server = mock().await;
    let client = server.client(TENANT, KEY).unwrap();
    let example = server.example_request(TENANT, "SaveComment").unwrap();
    let mut saved = Vec::new();
    for n in 0..2 {
        let mut body: fastcomments::types::CreateCommentParams = example.body().unwrap();
        body.url_id = "past".into();
        body.comment = format!("before {n}");
        saved.push(
            client
                .save_comment()
                .body(body)
                .send()
                .await
                .unwrap()
                .comment
                .id,
        );
    }
    let mut command = fastcomments(&server);
    command
        .args(["tail", "past", "--since", "2000-01-01"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let replayed =
        tokio::task::spawn_blocking(move || [(); 2].map(|()| lines.next().unwrap().unwrap()))
            .await
            .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let ids: Vec<Value> = replayed
        .iter()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            assert_eq!(event["type"], "new-comment", "{event}");
            event["comment"]["_id"].clone()
        })
        .collect();
    assert_eq!(ids, [saved[0].as_str(), saved[1].as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_worker_runs_the_databases_sites_and_stops_cleanly_on_ctrl_c() {
    use fastcomments::integration::Token;
    use fastcomments::sql::{Fleet, FleetSite, SqlDb, SqlSite};
    let server = mock().await;
    let token = format!("fleet-token-{}", fastrand_suffix());
    server.confirm_integration(&token, TENANT);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    server.create_integration_testing_events(TENANT, now_ms);
    let db_path = std::env::temp_dir().join(format!("fc-fleet-{}.sqlite", fastrand_suffix()));
    let url = format!("sqlite://{}", db_path.display());
    let db = SqlDb::connect(&url).await.unwrap();
    let site = SqlSite::open(db.clone(), "blog").await.unwrap();
    site.add_local(
        "welcome",
        "Ada",
        "<p>from the blog</p>",
        chrono::Utc::now(),
        None,
    )
    .await
    .unwrap();
    Fleet::new(db)
        .add_site(&FleetSite::new(
            "blog",
            Token::new(token),
            std::time::Duration::from_secs(5),
        ))
        .await
        .unwrap();
    let mut command = fastcomments(&server);
    command
        .args(["fleet-worker", "--worker-id", "w1", "--db", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // The 2 comments the testing events net, and the local one uploaded.
    let client = server.client(TENANT, KEY).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the worker stopped");
        let uploaded = client
            .get_comments()
            .url_id("welcome")
            .send()
            .await
            .unwrap()
            .comments
            .iter()
            .any(|c| c.comment_html == "<p>from the blog</p>");
        if uploaded && site.comments().await.unwrap().len() == 3 {
            break;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "the site was not run (uploaded: {uploaded}, {} comments): {} {}",
                site.comments().await.unwrap().len(),
                stdout(&output),
                stderr(&output)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("worker w1 running"), "{text}");
    assert!(
        text.contains(", 0 failed (0 fenced), 0 failed claims"),
        "{text}"
    );
    std::fs::remove_file(db_path).ok();
}
