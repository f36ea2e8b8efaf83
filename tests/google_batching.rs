//! Batched Google reads: on a generated estate of 1000 Cloud Run services, 200 Cloud SQL
//! instances and 100 Cloud Tasks queues over two projects and three regions, one poll makes
//! at most one list request per (API, project, region), counted at the simulator.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use opsdeck::estate;
use opsdeck::model::Status;
use opsdeck::{once, sim};

fn generated() -> String {
    let mut s = String::from("name = \"big\"\n[gcp]\nproject = \"alpha\"\n");
    for (i, (region, project)) in [
        ("europe-west1", "alpha"),
        ("us-central1", "alpha"),
        ("africa-south1", "beta"),
    ]
    .iter()
    .enumerate()
    {
        let _ = write!(
            s,
            "[[region]]\nid = \"r{i}\"\ngcp_region = \"{region}\"\nproject = \"{project}\"\n"
        );
    }
    let mut add = |n: usize, body: &dyn Fn(usize) -> String| {
        for i in 0..n {
            let _ = write!(
                s,
                "[[service]]\nregion = \"r{}\"\nsev = 3\n{}\n",
                i % 3,
                body(i)
            );
        }
    };
    add(1000, &|i| {
        format!("id = \"run-{i}\"\nkind = \"cloud_run\"\nservice = \"run-{i}\"")
    });
    add(200, &|i| {
        format!("id = \"sql-{i}\"\nkind = \"cloud_sql\"\ninstance = \"sql-{i}\"")
    });
    add(100, &|i| {
        format!("id = \"q-{i}\"\nkind = \"cloud_tasks\"\nqueue = \"q-{i}\"\nwarn_depth = 100")
    });
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_list_request_per_api_project_and_region() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (estate, _) =
        estate::from_str_with_env(&generated(), "big.toml", &|_| None).expect("valid");
    let handle = sim::start(&estate, None, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator");
    let redirected = Arc::new(sim::redirect(&estate, &handle));
    let before = handle.requests();
    let result = once::poll(Arc::clone(&redirected), Duration::from_secs(60)).await;
    let requests = handle.requests() - before;
    assert!(!result.timed_out);
    let snap = result.model.snapshot(chrono::Utc::now());
    assert_eq!(snap.services.len(), 1300);
    assert!(
        snap.services.iter().all(|s| s.status == Status::Up),
        "every service found in its list: {:?}",
        snap.services.iter().find(|s| s.status != Status::Up)
    );
    // Cloud Run: one per (project, region) = 3; Cloud SQL: one per project = 2;
    // Cloud Tasks: one per (project, region) = 3; plus the credential's token fetch.
    let lists = 3 + 2 + 3;
    assert!(
        requests <= lists + 2,
        "{requests} requests for {lists} lists: probes must not fan out per service"
    );
    assert!(
        requests >= lists,
        "{requests} requests: every list was read"
    );
    handle.shutdown().await;
}
