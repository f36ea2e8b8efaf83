//! The simulated Kubernetes API serving a 10 000-pod namespace: how long a full list takes (as
//! JSON, as kubectl's Table, and paged 500 at a time as kubectl pages), how long a watch takes
//! to stream every pod and then the deletions of a scale-down, and how much memory the
//! process holds. Run with `cargo bench --bench sim_pods`; it prints one line per measure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opsdeck::estate;
use opsdeck::once;
use opsdeck::sim::{self, scenario};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// A list or Table as the bench reads it: counted, never held as JSON values.
#[derive(Deserialize)]
struct Listed {
    #[serde(default)]
    items: Vec<IgnoredAny>,
    #[serde(default)]
    rows: Vec<IgnoredAny>,
    metadata: ListMeta,
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
    #[serde(rename = "continue")]
    next: Option<String>,
}

const PODS: usize = 10_000;
const NS: &str = "bench";

const ESTATE: &str = r#"
name = "bench"
[[region]]
id = "bench"
kube_context = "bench"
[[service]]
id = "pods"
name = "Ten thousand pods"
kind = "k8s_workload"
region = "bench"
namespace = "bench"
workload = "deployment/pods"
sev = 3
"#;

/// 10 000 replicas at once; CPU on target so the HPA leaves them be; a fast clock so every
/// pod is running within a second.
const SCENARIO: &str = r#"
name = "ten-thousand-pods"
speed = 1000
[[event]]
service = "pods"
set = { replicas = 10000, "hpa.cpu" = 70, "hpa.max" = 10000 }
"#;

/// (current, peak) resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn report(what: &str, took: Duration, extra: &str) {
    let (rss, peak) = memory();
    println!(
        "{what:<52} {:>9.1} ms  {extra:<28} rss {rss:>6.1} MiB  peak {peak:>6.1} MiB",
        took.as_secs_f64() * 1000.0
    );
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    table: bool,
) -> (T, usize) {
    let mut request = http.get(url);
    if table {
        request = request.header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        );
    }
    let bytes = request
        .send()
        .await
        .expect("the API answers")
        .bytes()
        .await
        .expect("a body");
    (serde_json::from_slice(&bytes).expect("JSON"), bytes.len())
}

/// Reads a watch until `lines` events have arrived; returns how many bytes that took.
async fn drain(response: &mut reqwest::Response, lines: usize, kind: &str) -> usize {
    let mut seen = 0;
    let mut bytes = 0;
    let mut partial = Vec::new();
    while seen < lines {
        let chunk = tokio::time::timeout(Duration::from_secs(60), response.chunk())
            .await
            .expect("events keep coming")
            .expect("the watch stays open")
            .expect("the watch is not closed");
        bytes += chunk.len();
        partial.extend_from_slice(&chunk);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            if line
                .windows(kind.len() + 2)
                .any(|w| w == format!("\"{kind}\"").as_bytes())
            {
                seen += 1;
            }
        }
    }
    bytes
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (rss0, _) = memory();
    println!(
        "sim_pods: a {PODS}-pod namespace on the simulated Kubernetes API (process rss before: {rss0:.1} MiB)"
    );
    let (estate, _) = estate::from_str(ESTATE, "bench.toml").expect("the estate loads");
    let scenario = scenario::parse(SCENARIO, "bench.toml").expect("the scenario parses");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let started = Instant::now();
    let sim = sim::start(&estate, Some(scenario), listen)
        .await
        .expect("the simulator starts");
    let yaml = sim.kubeconfig_yaml().expect("a kubeconfig");
    let base = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .map(|s| s.trim_matches('"').to_string())
        .expect("a server");
    let http = reqwest::Client::new();
    let pods = format!("{base}/api/v1/namespaces/{NS}/pods");

    let deployment = format!("{base}/apis/apps/v1/namespaces/{NS}/deployments/pods");
    loop {
        let (d, _): (Value, _) = get(&http, &deployment, false).await;
        if d["status"]["readyReplicas"].as_u64() == Some(PODS as u64) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the pods never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    report(
        "start, 10 000 pods created and ready",
        started.elapsed(),
        "",
    );

    for round in 0..3 {
        let t = Instant::now();
        let (list, size): (Listed, _) = get(&http, &pods, false).await;
        let n = list.items.len();
        assert_eq!(n, PODS);
        report(
            &format!("list pods as JSON (round {})", round + 1),
            t.elapsed(),
            &format!("{n} items, {:.1} MiB", size as f64 / 1_048_576.0),
        );
    }
    let t = Instant::now();
    let (table, size): (Listed, _) = get(&http, &pods, true).await;
    assert_eq!(table.rows.len(), PODS);
    report(
        "list pods as a Table (kubectl get pods)",
        t.elapsed(),
        &format!("{PODS} rows, {:.1} MiB", size as f64 / 1_048_576.0),
    );

    let t = Instant::now();
    let mut cont = String::new();
    let mut total = 0;
    let mut pages = 0;
    loop {
        let url = format!("{pods}?limit=500&continue={cont}");
        let (page, _): (Listed, _) = get(&http, &url, true).await;
        total += page.rows.len();
        pages += 1;
        match page.metadata.next {
            Some(c) => cont = c,
            None => break,
        }
    }
    assert_eq!(total, PODS);
    report(
        "list pods 500 at a time (kubectl's paging)",
        t.elapsed(),
        &format!("{pages} pages"),
    );

    let t = Instant::now();
    let mut watch = http
        .get(format!("{pods}?watch=true"))
        .send()
        .await
        .expect("the watch opens");
    let bytes = drain(&mut watch, PODS, "ADDED").await;
    report(
        "watch from the start: every pod ADDED",
        t.elapsed(),
        &format!("{:.1} MiB streamed", bytes as f64 / 1_048_576.0),
    );
    drop(watch);

    let (list, _): (Listed, _) = get(&http, &format!("{pods}?limit=1"), false).await;
    let rv = list.metadata.resource_version;
    let mut watch = http
        .get(format!(
            "{pods}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}"
        ))
        .send()
        .await
        .expect("the watch opens");
    let t = Instant::now();
    let scaled = http
        .patch(format!("{deployment}/scale"))
        .header("content-type", "application/merge-patch+json")
        .body(format!("{{\"spec\":{{\"replicas\":{}}}}}", PODS - 1000))
        .send()
        .await
        .expect("the scale answers");
    assert!(scaled.status().is_success());
    drain(&mut watch, 1000, "DELETED").await;
    report(
        "scale to 9 000 and watch 1 000 pods DELETED",
        t.elapsed(),
        "",
    );
    drop(watch);

    // opsdeck's own Kubernetes probe: its watchers list and watch the namespace through
    // kube-rs, then judge the workload from the cached pods.
    let (before, _) = memory();
    let live = std::sync::Arc::new(sim::redirect(&estate, &sim));
    let t = Instant::now();
    let result = once::poll(live, Duration::from_secs(120)).await;
    let took = t.elapsed();
    let snap = result.model.snapshot(chrono::Utc::now());
    let (after, _) = memory();
    report(
        "opsdeck's probe: watch-load 9 000 pods, judge the workload",
        took,
        &format!(
            "{} up, +{:.1} MiB",
            snap.counts.up,
            (after - before).max(0.0)
        ),
    );
    if let Some(s) = snap.services.first() {
        println!("    the workload reads: {}", s.summary);
    }

    sim.shutdown().await;
    let (_, peak) = memory();
    println!(
        "sim_pods: peak resident memory {peak:.1} MiB (of which {rss0:.1} MiB before the simulator)"
    );
}
