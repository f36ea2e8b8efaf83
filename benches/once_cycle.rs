//! One `--once` cycle over a generated 1300-service estate on the built-in simulator:
//! reports its wall time against the slowest single request the simulator answered in it
//! (the floor a cycle cannot beat), and the HTTP requests it made. Run with `cargo bench --bench once_cycle`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck::{estate, once, sim};

/// The estate the probes issue sizes the cycle on: 1000 Cloud Run services, 200 Cloud SQL
/// instances and 100 Cloud Tasks queues over two projects and three regions (scaled to `n`
/// services in the same proportions), with dependency edges between them.
fn generated_estate(n: usize) -> String {
    let regions = ["europe-west1", "us-central1", "africa-south1"];
    let mut s =
        String::from("name = \"bench\"\nenvironment = \"prod\"\n[gcp]\nproject = \"bench-a\"\n");
    for (i, r) in regions.iter().enumerate() {
        let project = if i == 2 { "bench-b" } else { "bench-a" };
        let _ = write!(
            s,
            "[[region]]\nid = \"r{i}\"\ngcp_region = \"{r}\"\nproject = \"{project}\"\n"
        );
    }
    let runs = n * 10 / 13;
    let sqls = n * 2 / 13;
    for i in 0..n {
        let region = i % 3;
        let body = if i < runs {
            format!("kind = \"cloud_run\"\nservice = \"run-{i}\"")
        } else if i < runs + sqls {
            format!("kind = \"cloud_sql\"\ninstance = \"sql-{i}\"")
        } else {
            format!("kind = \"cloud_tasks\"\nqueue = \"queue-{i}\"\nwarn_depth = 1000")
        };
        // Every fifth Cloud Run service depends on a Cloud SQL instance.
        let deps = if i < runs && i % 5 == 0 && sqls > 0 {
            format!("depends_on = [\"s{}\"]\n", runs + i % sqls)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "[[service]]\nid = \"s{i}\"\nregion = \"r{region}\"\nsev = {}\n{body}\n{deps}",
            1 + i % 4
        );
    }
    s
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let n = std::env::var("OPSDECK_BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1300);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let text = generated_estate(n);
    let (estate, _) =
        estate::from_str_with_env(&text, "bench.toml", &|_| None).expect("valid estate");
    rt.block_on(async {
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let handle = sim::start(&estate, None, listen).await.expect("simulator");
        let redirected = Arc::new(sim::redirect(&estate, &handle));
        let mut walls = Vec::new();
        for round in 0..5 {
            let before = handle.requests();
            let _ = handle.take_slowest_request();
            let started = Instant::now();
            let result = once::poll(Arc::clone(&redirected), Duration::from_secs(60)).await;
            let wall = started.elapsed();
            let slowest = handle.take_slowest_request();
            let requests = handle.requests() - before;
            let snap = result.model.snapshot(chrono::Utc::now());
            println!(
                "round {round}: {n} services, wall {:.1} ms, slowest single request {:.1} ms ({:.1}× it), {requests} HTTP requests, {} up, exit {}",
                wall.as_secs_f64() * 1000.0,
                slowest.as_secs_f64() * 1000.0,
                wall.as_secs_f64() / slowest.as_secs_f64().max(1e-6),
                snap.counts.up,
                snap.exit_code
            );
            walls.push(wall);
        }
        walls.sort();
        println!(
            "once_cycle/{n}: median wall {:.1} ms (min {:.1} ms, max {:.1} ms)",
            walls[walls.len() / 2].as_secs_f64() * 1000.0,
            walls[0].as_secs_f64() * 1000.0,
            walls[walls.len() - 1].as_secs_f64() * 1000.0
        );
        handle.shutdown().await;
    });
}
