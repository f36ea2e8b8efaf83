//! The watch-based Kubernetes probe against the simulator's API server: workloads of a
//! sample estate come up through kube-rs watchers; a context that cannot be reached leaves
//! one sentence on its services and the rest of the estate reported.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use opsdeck::estate::{self, Kind};
use opsdeck::model::Status;
use opsdeck::{once, sim};

fn sample(name: &str) -> estate::Estate {
    let path = format!(
        "{}/fixtures/estates/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("sample estate");
    estate::from_str_with_env(&text, &path, &|_| None)
        .expect("valid")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_of_the_k8s_estate_are_read_through_watches() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let estate = sample("epfl-k8s");
    let handle = sim::start(&estate, None, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator");
    let redirected = sim::redirect(&estate, &handle);
    assert!(
        redirected.kubeconfig.is_some(),
        "the simulator hands over its kubeconfig"
    );
    let result = once::poll(Arc::new(redirected), Duration::from_secs(20)).await;
    let snap = result.model.snapshot(chrono::Utc::now());
    let workloads: Vec<_> = snap
        .services
        .iter()
        .filter(|s| s.kind == Kind::K8sWorkload)
        .collect();
    assert!(workloads.len() >= 4);
    for w in workloads {
        assert_eq!(w.status, Status::Up, "{}: {:?}", w.id, w.error);
        assert!(w.summary.contains("ready"), "{}", w.summary);
        assert!(w.metrics.contains_key("desired"));
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_cluster_is_stale_with_the_reason_and_the_rest_still_reported() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    // A context whose API server refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .expect("write kubeconfig");
    let src = format!(
        "name = \"t\"\nkubeconfig = \"{}\"\n[[region]]\nid = \"eu\"\nkube_context = \"gone\"\n\
         [[service]]\nid = \"api\"\nkind = \"k8s_workload\"\nregion = \"eu\"\nnamespace = \"web\"\nworkload = \"deployment/api\"\nsev = 2\n\
         [[service]]\nid = \"other\"\nkind = \"k8s_workload\"\nregion = \"eu\"\nnamespace = \"web\"\nworkload = \"deployment/missing-context-test\"\nsev = 3\n",
        kubeconfig.display()
    );
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid");
    let result = once::poll(Arc::new(e), Duration::from_secs(20)).await;
    assert!(!result.timed_out);
    let snap = result.model.snapshot(chrono::Utc::now());
    let api = snap.service("api").expect("api");
    assert!(api.stale, "cannot see is stale, not down");
    assert_ne!(api.status, Status::Down);
    let err = api.error.as_deref().unwrap_or_default();
    assert!(
        err.contains("context 'gone'") && err.contains("deployments"),
        "{err}"
    );
    assert!(!err.contains('\n'));
}
