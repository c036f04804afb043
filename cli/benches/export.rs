//! `fastcomments export` against the mock with 20 ms per page: its rate against the
//! sequential loop a user would write (one `GetComments` page after another, each line
//! written), and its peak memory for 10× the comments.
//!
//! ```text
//! cargo bench -p fastcomments-cli --bench export
//! ```
//!
//! Every figure is a ratio against a run in the same process: the loop's time over the
//! export's (higher is faster), and the export's peak RSS for 20,000 comments over its
//! peak for 2,000 (1.0 is constant memory). The export runs as the release binary, a
//! child process; its peak RSS is the kernel's `VmHWM`, read every 2 ms while it runs
//! (so the last 2 ms before it exits are not seen).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fastcomments::Client;
use fastcomments::mock::MockServer;
use serde_json::Value;

/// Two tenants, so that each export is a whole tenant's (the mock's unfiltered path, as
/// the library's pagination bench).
const SMALL_TENANT: &str = "small";
const TENANT: &str = "big";
const KEY: &str = "bench-key";
const LATENCY: Duration = Duration::from_millis(20);
const SMALL: usize = 2_000;
const BIG: usize = 20_000;

#[tokio::main]
async fn main() {
    let server = MockServer::start().await.expect("the mock starts");
    server.add_tenant(SMALL_TENANT, KEY);
    server.add_tenant(TENANT, KEY);
    server.seed_comments(SMALL_TENANT, "page", SMALL);
    server.seed_comments(TENANT, "page", BIG);
    server.set_latency(LATENCY);
    let client = server.client(TENANT, KEY).expect("a client");

    let started = Instant::now();
    let looped = sequential_loop(&client).await;
    let loop_time = started.elapsed();
    assert_eq!(looped, BIG);

    let (_, small_rss) = export(&server, SMALL_TENANT, 16).await;
    let (depth1, _) = export(&server, TENANT, 1).await;
    let (adaptive, big_rss) = export(&server, TENANT, 16).await;
    println!(
        "export of {BIG} comments, {} ms per page, 100 a page:",
        LATENCY.as_millis()
    );
    println!(
        "  sequential loop      {:>8.2} s  1.00x",
        loop_time.as_secs_f64()
    );
    for (name, time) in [
        ("export --depth 1", depth1),
        ("export (adaptive 16)", adaptive),
    ] {
        println!(
            "  {name:<20} {:>8.2} s  {:.2}x the loop",
            time.as_secs_f64(),
            loop_time.as_secs_f64() / time.as_secs_f64()
        );
    }
    println!(
        "  peak RSS: {BIG} comments {:.1} MiB, {SMALL} comments {:.1} MiB: {:.2}x for 10x the comments",
        big_rss as f64 / 1024.0,
        small_rss as f64 / 1024.0,
        big_rss as f64 / small_rss as f64
    );
}

/// The loop a user would write: one page after another, each comment a JSON line.
async fn sequential_loop(client: &Client) -> usize {
    let mut out = std::io::BufWriter::new(std::io::sink());
    let mut skip = 0;
    loop {
        let page = client
            .call("GetComments")
            .expect("GetComments")
            .param("direction", "OF")
            .param("skip", skip.to_string())
            .param("limit", "100");
        let answer = page.send().await.expect("a page");
        let comments = answer["comments"].as_array().cloned().unwrap_or_default();
        for comment in &comments {
            serde_json::to_writer(&mut out, comment).expect("written");
            out.write_all(b"\n").expect("written");
        }
        skip += comments.len();
        if comments.len() < 100 {
            return skip;
        }
    }
}

/// Runs the export of `tenant` at `depth`; its time and peak RSS (KiB).
async fn export(server: &MockServer, tenant: &str, depth: u16) -> (Duration, i64) {
    let file = std::env::temp_dir().join(format!("fc-bench-export-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastcomments"));
    command
        .env("FASTCOMMENTS_BASE_URL", server.base_url())
        .env("FASTCOMMENTS_TENANT_ID", tenant)
        .env("FASTCOMMENTS_API_KEY", KEY)
        .args(["export", "--depth", &depth.to_string(), "--file"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let (status, peak) = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("runs");
        let mut peak = 0;
        loop {
            if let Some(status) = child.try_wait().expect("waits") {
                return (status, peak);
            }
            peak = peak_rss_kib(child.id()).unwrap_or(peak).max(peak);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
    .await
    .expect("joined");
    let time = started.elapsed();
    assert!(status.success());
    let lines = std::fs::read_to_string(&file)
        .expect("written")
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert_eq!(lines, if tenant == TENANT { BIG } else { SMALL });
    std::fs::remove_file(&file).expect("removed");
    (time, peak)
}

/// The process's peak resident set since its `exec` (`VmHWM`, KiB). Not `getrusage`:
/// a child's `ru_maxrss` counts the bench's own pages, shared until the `exec`.
fn peak_rss_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
