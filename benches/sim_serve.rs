//! The simulator serving a generated 5000-service estate: how long it takes to materialise,
//! how many Google API requests per second it answers (gets of every kind, the Knative view,
//! Cloud Tasks stats, whole-project lists) from 64 concurrent clients, and the process's
//! resident memory. Run with `cargo bench --bench sim_serve`; `OPSDECK_BENCH_SERVICES` and
//! `OPSDECK_BENCH_REQUESTS` change the size.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use opsdeck::{estate, sim};

const REGIONS: [&str; 3] = ["europe-west1", "us-central1", "africa-south1"];
const CLIENTS: usize = 64;

/// `n` services of every Google kind the simulator materialises, over three regions.
fn generated_estate(n: usize) -> String {
    let mut s =
        String::from("name = \"bench\"\nenvironment = \"prod\"\n[gcp]\nproject = \"bench\"\n");
    for (i, r) in REGIONS.iter().enumerate() {
        let _ = write!(s, "[[region]]\nid = \"r{i}\"\ngcp_region = \"{r}\"\n");
    }
    for i in 0..n {
        let body = match i % 6 {
            0 | 1 => format!("kind = \"cloud_run\"\nservice = \"run-{i}\""),
            2 => format!("kind = \"cloud_sql\"\ninstance = \"sql-{i}\""),
            3 => format!("kind = \"cloud_tasks\"\nqueue = \"q-{i}\""),
            4 => format!("kind = \"memorystore\"\ninstance = \"redis-{i}\""),
            _ => format!(
                "kind = \"gcp_rest\"\nurl = \"https://secretmanager.googleapis.com/v1/projects/bench/secrets/s-{i}/versions/latest\"\nup_when = 'state == \"ENABLED\"'"
            ),
        };
        let _ = write!(
            s,
            "[[service]]\nid = \"s{i}\"\nregion = \"r{}\"\nsev = {}\n{body}\n",
            i % 3,
            1 + i % 4
        );
    }
    s
}

/// The path of request `k` against an estate of `n` services: mostly single reads, one in
/// fifty a whole-region list.
fn path(k: usize, n: usize) -> String {
    let i = (k.wrapping_mul(7919)) % n;
    let region = REGIONS[i % 3];
    if k % 50 == 49 {
        return format!("/v2/projects/bench/locations/{region}/services?pageSize=100");
    }
    match i % 6 {
        0 => format!("/v2/projects/bench/locations/{region}/services/run-{i}"),
        1 => format!("/apis/serving.knative.dev/v1/namespaces/bench/services/run-{i}"),
        2 => format!("/sql/v1beta4/projects/bench/instances/sql-{i}?alt=json"),
        3 => format!(
            "/v2beta3/projects/bench/locations/{region}/queues/q-{i}?readMask=name,state,stats"
        ),
        4 => format!("/v1/projects/bench/locations/{region}/instances/redis-{i}"),
        _ => format!("/v1/projects/bench/secrets/s-{i}/versions/latest"),
    }
}

/// The resident memory of this process, from /proc/self/status.
fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn main() {
    let n: usize = std::env::var("OPSDECK_BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let total: usize = std::env::var("OPSDECK_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("sim_serve: {n} services, {total} requests from {CLIENTS} clients");
    println!("  resident memory before: {}", rss());
    let text = generated_estate(n);
    let (estate, _) =
        estate::from_str_with_env(&text, "bench.toml", &|_| None).expect("valid estate");
    rt.block_on(async {
        let started = Instant::now();
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let sim = sim::start(&estate, None, listen).await.expect("simulator");
        let base = sim.base_url();
        let stats: serde_json::Value = reqwest::get(format!("{base}/_sim/stats"))
            .await
            .expect("stats")
            .json()
            .await
            .expect("JSON");
        println!(
            "  materialised {} resources in {:.0?}; resident memory {}",
            stats["resources"],
            started.elapsed(),
            rss()
        );

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client");
        let next = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, base, next, failed) =
                    (client.clone(), base.clone(), next.clone(), failed.clone());
                tokio::spawn(async move {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= total {
                            break;
                        }
                        let ok = match client.get(format!("{base}{}", path(k, n))).send().await {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.await;
        }
        let elapsed = started.elapsed();
        println!(
            "  served {total} requests in {elapsed:.2?}: {:.0} requests/second, {} failed",
            total as f64 / elapsed.as_secs_f64(),
            failed.load(Ordering::Relaxed)
        );
        println!("  resident memory after: {}", rss());
        sim.shutdown().await;
    });
}
