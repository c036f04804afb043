//! Streaming comments from the mock server.
//!
//! ```text
//! cargo bench --bench pagination
//! ```
//!
//! 1. Throughput: 100,000 comments, 20 ms of latency per request, 100 per page: the loop a
//!    user would write over the generated calls (request a page, consume it, request the
//!    next) against `stream()` at depth 0, depth 1 and an adaptive depth (ceiling 16), in
//!    one run; items/s and the ratios.
//! 2. Under a rate limit (the mock's, per tenant, 60 requests a second after a second's
//!    burst, 429 with `Retry-After` beyond): 200,000 comments (2,000 pages, about 33 s of
//!    the limit: a long export, where a client's steady behaviour shows, not its first
//!    second) at depth 1 and at an adaptive depth; the rate reached against the rate the
//!    limit allows, and the 429s each drew. `cargo bench --bench pagination --
//!    --rate-limited` runs this part alone.
//! 3. Memory: the peak RSS of a client process streaming 10,000 and then 1,000,000
//!    comments from a mock server running in another process (so that its data does not
//!    count), as a ratio.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fastcomments::Client;
use fastcomments::mock::MockServer;
use futures::TryStreamExt;

const TENANT: &str = "bench";
const KEY: &str = "bench-key";
const PAGE: i32 = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("--serve") => runtime.block_on(serve(
            args[1..].iter().map(|a| a.parse().unwrap()).collect(),
        )),
        Some("--stream") => runtime.block_on(stream_and_report(&args[1], &args[2])),
        Some("--rate-limited") => runtime.block_on(rate_limited()),
        _ => {
            runtime.block_on(throughput());
            runtime.block_on(rate_limited());
            memory();
        }
    }
}

async fn throughput() {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, KEY);
    let started = Instant::now();
    server.seed_comments(TENANT, "post", 100_000);
    println!("seeded 100,000 comments in {:.2?}", started.elapsed());
    server.set_latency(Duration::from_millis(20));
    let client = server.client(TENANT, KEY).unwrap();

    let (n, loop_time) = timed(sequential_loop(&client)).await;
    let rate = |time: Duration| n as f64 / time.as_secs_f64();
    println!(
        "sequential loop:   {n} comments in {loop_time:>8.2?}  {:>8.0} items/s",
        rate(loop_time)
    );
    for depth in [Some(0), Some(1), None] {
        let (m, time) = timed(streamed(&client, depth)).await;
        assert_eq!(m, n, "the stream yields what the loop did");
        let name = depth.map_or(format!("adaptive ({CEILING})"), |d| format!("depth {d}"));
        println!(
            "stream, {name:>13}:  {m} comments in {time:>8.2?}  {:>8.0} items/s  {:.2}x the loop",
            rate(time),
            loop_time.as_secs_f64() / time.as_secs_f64()
        );
    }
}

async fn timed<F: std::future::Future<Output = usize>>(f: F) -> (usize, Duration) {
    let started = Instant::now();
    let n = f.await;
    (n, started.elapsed())
}

/// Requests a second the rate-limited runs allow.
const LIMIT: u32 = 60;
/// Comments listed under the rate limit.
const RATE_LIMITED_COMMENTS: usize = 200_000;
/// The adaptive depth's ceiling.
const CEILING: usize = 16;

/// Depth 1 against the adaptive depth under the mock's rate limit: the rate each reaches
/// against what the limit allows, and the 429s each drew.
async fn rate_limited() {
    let server = MockServer::start().await.unwrap();
    server.add_tenant(TENANT, KEY);
    server.seed_comments(TENANT, "post", RATE_LIMITED_COMMENTS);
    server.set_latency(Duration::from_millis(20));
    let client = server.client(TENANT, KEY).unwrap();
    println!(
        "rate limit {LIMIT} requests/s per tenant (a second's burst first), 100 per page: in t seconds it allows {LIMIT} × (t + 1) requests"
    );
    let mut refused = Vec::new();
    for (name, adaptive) in [("depth 1", false), ("adaptive", true)] {
        server.set_rate_limit(Some(LIMIT)); // full buckets, the count from 0
        let started = Instant::now();
        let stream = client.get_comments().stream().page_size(PAGE as u64);
        let stream = if adaptive {
            stream.adaptive_depth(CEILING)
        } else {
            stream.depth(1)
        };
        let n = stream
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await
            .unwrap();
        let time = started.elapsed();
        let rate = n as f64 / time.as_secs_f64();
        let allowed = f64::from(LIMIT) * (time.as_secs_f64() + 1.0) * f64::from(PAGE);
        println!(
            "{name:>9}: {n} comments in {time:>8.2?}  {rate:>8.0} items/s  {:.3}x what the limit allows (burst included; {:.3}x its rate)  {} answered 429",
            n as f64 / allowed,
            rate / (f64::from(LIMIT) * f64::from(PAGE)),
            server.rate_limited()
        );
        refused.push(server.rate_limited());
    }
    println!(
        "429s, adaptive vs depth 1: {} vs {} ({:+})",
        refused[1],
        refused[0],
        refused[1] as i64 - refused[0] as i64
    );
}

/// The loop a user writes by hand over the generated calls.
async fn sequential_loop(client: &Client) -> usize {
    let mut total = 0;
    let mut skip = 0;
    loop {
        let page = client
            .get_comments()
            .skip(skip)
            .limit(PAGE)
            .send()
            .await
            .unwrap();
        total += page
            .comments
            .iter()
            .filter(|c| !c.comment.is_empty())
            .count();
        if page.comments.len() < PAGE as usize {
            return total;
        }
        skip += PAGE;
    }
}

/// Every comment through `stream()`, at a fixed depth, or adaptive with `None`.
async fn streamed(client: &Client, depth: Option<usize>) -> usize {
    let stream = client.get_comments().stream().page_size(PAGE as u64);
    let stream = match depth {
        Some(depth) => stream.depth(depth),
        None => stream.adaptive_depth(CEILING),
    };
    stream
        .try_fold(0, |n, c| async move {
            Ok(n + usize::from(!c.comment.is_empty()))
        })
        .await
        .unwrap()
}

/// Child process: a mock server with one tenant per count given; prints its base URL,
/// serves until its standard input closes.
async fn serve(counts: Vec<usize>) {
    let server = MockServer::start().await.unwrap();
    for count in counts {
        let tenant = format!("t{count}");
        server.add_tenant(&tenant, KEY);
        let started = Instant::now();
        server.seed_comments(&tenant, "post", count);
        eprintln!(
            "server: seeded {count} comments in {:.2?}",
            started.elapsed()
        );
    }
    println!("{}", server.base_url());
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
}

/// Child process: streams every comment of `tenant`, prints the count and its peak RSS.
async fn stream_and_report(base_url: &str, tenant: &str) {
    let client = Client::builder()
        .base_url(base_url)
        .api_key(KEY)
        .tenant_id(tenant)
        .build()
        .unwrap();
    let n = streamed(&client, Some(1)).await;
    println!("{n} {}", peak_rss_kib());
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn memory() {
    let me = std::env::current_exe().unwrap();
    let mut server = Command::new(&me)
        .args(["--serve", "10000", "1000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let mut peaks = Vec::new();
    for count in [10_000, 1_000_000] {
        let started = Instant::now();
        let out = Command::new(&me)
            .args(["--stream", url.trim(), &format!("t{count}")])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let mut fields = report.split_whitespace().map(|f| f.parse::<u64>().unwrap());
        let (n, peak) = (fields.next().unwrap(), fields.next().unwrap());
        assert_eq!(n, count as u64);
        println!(
            "client streaming {n:>9} comments: peak RSS {:>6.1} MiB ({:.2?})",
            peak as f64 / 1024.0,
            started.elapsed()
        );
        peaks.push(peak as f64);
    }
    println!(
        "peak RSS, 1,000,000 vs 10,000 comments: {:.2}x",
        peaks[1] / peaks[0]
    );
    drop(server.stdin.take().map(|mut s| s.flush()));
    let _ = server.wait();
}
