//! The cluster side of the simulator with curl and reqwest: the RabbitMQ management API (basic
//! auth, queues with dead-letter arguments, purge), Prometheus (/metrics in both formats,
//! /api/v1/query following a scenario), Kubernetes leases with resource-version conflicts,
//! watches with bookmarks and 410 Gone, and how the estate is redirected. curl-based checks
//! skip without curl, unless OPSDECK_REQUIRE_LIVE=1.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use opsdeck::estate::{self, Estate, Target};
use opsdeck::sim::{self, SimHandle, scenario};
use serde_json::{Value, json};

fn sample(name: &str) -> Estate {
    let (_, text) = estate::SAMPLE_ESTATES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a sample estate");
    estate::from_str(text, name).expect("the sample loads").0
}

async fn start(estate: &Estate, scenario: Option<&str>) -> SimHandle {
    let scenario = scenario.map(|s| {
        scenario::builtin(s).unwrap_or_else(|| scenario::parse(s, "test.toml").expect("parses"))
    });
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    sim::start(estate, scenario, listen)
        .await
        .expect("the simulator starts")
}

fn url_of(estate: &Estate, id: &str) -> String {
    match &estate.service(id).expect("the service").target {
        Target::RabbitmqQueue { url, .. }
        | Target::Prometheus { url, .. }
        | Target::Promql { url, .. }
        | Target::Redis { url, .. }
        | Target::RedisQueue { url, .. } => url.clone(),
        other => panic!("{id} has no url: {other:?}"),
    }
}

fn curl(args: &[&str]) -> (String, u16) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (body.to_string(), code.trim().parse().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_and_purges_rabbitmq_queues() {
    if !common::live("curl", common::have("curl")) {
        return;
    }
    let estate = sample("deplate");
    let sim = start(&estate, Some("rabbitmq-dlq-growing")).await;
    let redirected = sim::redirect(&estate, &sim);
    let base = url_of(&redirected, "notifications");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let (body, code) = curl(&[&format!("{base}/api/queues")]);
    assert_eq!(code, 401, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON")["error"],
        "not_authorized"
    );

    let (body, code) = curl(&["-u", "opsdeck:whatever", &format!("{base}/api/queues")]);
    assert_eq!(code, 200);
    let queues: Vec<Value> = serde_json::from_str(&body).expect("a JSON list");
    let names: Vec<&str> = queues.iter().filter_map(|q| q["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "events",
            "events.dead-letter",
            "notifications",
            "notifications.dead-letter"
        ]
    );
    let notifications = &queues[2];
    assert_eq!(notifications["vhost"], "/");
    assert_eq!(notifications["state"], "running");
    assert_eq!(
        notifications["arguments"]["x-dead-letter-routing-key"],
        "notifications.dead-letter"
    );
    assert!(notifications["consumers"].as_u64().is_some_and(|c| c > 0));
    for key in ["messages_ready", "messages_unacknowledged", "messages"] {
        assert!(notifications[key].is_u64(), "{key}");
    }
    assert!(
        notifications["message_stats"]["publish_details"]["rate"]
            .as_f64()
            .is_some_and(|r| r > 0.0)
    );
    assert!(notifications["message_stats"]["deliver_get_details"]["rate"].is_number());

    let dlq = common::poll(
        std::time::Duration::from_secs(20),
        || async {
            let (body, _) = curl(&[
                "-u",
                "opsdeck:x",
                &format!("{base}/api/queues/%2F/notifications.dead-letter"),
            ]);
            serde_json::from_str::<Value>(&body).unwrap_or_default()
        },
        |q| q["messages_ready"].as_u64().is_some_and(|n| n > 0),
    )
    .await;
    assert!(
        dlq["messages_ready"].as_u64().is_some_and(|n| n > 0),
        "the dead letters grow: {dlq}"
    );
    assert_eq!(dlq["consumers"], 0);

    let (body, code) = curl(&["-u", "opsdeck:x", &format!("{base}/api/overview")]);
    assert_eq!(code, 200);
    let overview: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(overview["product_name"], "RabbitMQ");
    assert_eq!(overview["object_totals"]["queues"], 4);

    let (_, code) = curl(&[
        "-u",
        "opsdeck:x",
        "-X",
        "DELETE",
        &format!("{base}/api/queues/%2F/notifications.dead-letter/contents"),
    ]);
    assert_eq!(code, 204);
    let (body, _) = curl(&[
        "-u",
        "opsdeck:x",
        &format!("{base}/api/queues/%2F/notifications.dead-letter"),
    ]);
    let purged: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        purged["messages_ready"]
            .as_u64()
            .is_some_and(|n| n < dlq["messages_ready"].as_u64().unwrap_or(0)),
        "{purged}"
    );
    let (_, code) = curl(&["-u", "opsdeck:x", &format!("{base}/api/queues/%2F/nope")]);
    assert_eq!(code, 404);
    sim.shutdown().await;
}

/// The samples of one metric in exposition text: (labels, value).
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, labels) = series.split_once('{').map_or((series, ""), |(m, l)| (m, l));
            (metric == name).then(|| {
                (
                    labels.trim_end_matches('}').to_string(),
                    value.parse().unwrap_or(f64::NAN),
                )
            })
        })
        .collect()
}

async fn query(prom: &str, q: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .expect("the query answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_serves_exporters_and_queries_that_follow_the_scenario() {
    if !common::live("curl", common::have("curl")) {
        return;
    }
    let estate = sample("epfl-k8s");
    let healthy = start(&estate, None).await;
    let prom = url_of(&sim::redirect(&estate, &healthy), "prometheus");
    let (body, code) = curl(&[
        "--data-urlencode",
        r#"query=sum(up{namespace=~"backend|worker"})"#,
        &format!("{prom}/api/v1/query"),
    ]);
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["status"], "success");
    assert_eq!(doc["data"]["resultType"], "vector");
    assert_eq!(
        doc["data"]["result"][0]["value"][1], "4",
        "two backend and two worker pods: {doc}"
    );
    let bad = query(&prom, "sum(up{").await;
    assert_eq!(
        (bad["status"].as_str(), bad["errorType"].as_str()),
        (Some("error"), Some("bad_data"))
    );
    healthy.shutdown().await;

    let broken = start(&estate, Some("epfl-backend-crashloop")).await;
    let prom = url_of(&sim::redirect(&estate, &broken), "prometheus");
    let doc = query(&prom, r#"sum(up{namespace=~"backend|worker"})"#).await;
    assert_eq!(
        doc["data"]["result"][0]["value"][1], "2",
        "the backend pods are down: {doc}"
    );
    let waiting = query(
        &prom,
        r#"kube_pod_container_status_waiting_reason{namespace="backend"}"#,
    )
    .await;
    let reasons: Vec<&str> = waiting["data"]["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .filter_map(|s| s["metric"]["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["CrashLoopBackOff", "CrashLoopBackOff"]);
    broken.shutdown().await;

    let deplate = sample("deplate");
    let sim = start(
        &deplate,
        Some(
            r#"
name = "lagging"
[[event]]
service = "replica-lag"
set = { value = 240 }
"#,
        ),
    )
    .await;
    let exporter = url_of(&sim::redirect(&deplate, &sim), "replica-lag");
    assert!(exporter.ends_with("/metrics"), "{exporter}");
    let (classic, code) = curl(&[&exporter]);
    assert_eq!(code, 200);
    assert!(classic.contains("# TYPE mysql_slave_status_seconds_behind_master gauge"));
    assert!(!classic.contains("# EOF"));
    let lag = samples(&classic, "mysql_slave_status_seconds_behind_master");
    assert_eq!(lag.len(), 1);
    assert!((lag[0].1 - 240.0).abs() < f64::EPSILON, "{classic}");
    let (om, _) = curl(&[
        "-H",
        "Accept: application/openmetrics-text; version=1.0.0",
        &exporter,
    ]);
    assert!(om.trim_end().ends_with("# EOF"), "{om}");
    let headers = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", &exporter])
        .output()
        .expect("curl runs");
    assert!(
        String::from_utf8_lossy(&headers.stdout)
            .to_lowercase()
            .contains("content-type: text/plain; version=0.0.4")
    );
    let prom = url_of(&sim::redirect(&deplate, &sim), "prometheus");
    let doc = query(&prom, "redis_connected_slaves").await;
    let slaves: Vec<&str> = doc["data"]["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .filter_map(|s| s["value"][1].as_str())
        .collect();
    assert_eq!(slaves, ["1", "0"], "the master has its replica: {doc}");
    sim.shutdown().await;
}

/// The Kubernetes API base URL of the one context in the simulator's kubeconfig.
fn kube_base(sim: &SimHandle) -> String {
    let yaml = sim.kubeconfig_yaml().expect("a kubeconfig");
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .map(|s| s.trim_matches('"').to_string())
        .expect("a server line")
}

#[tokio::test]
async fn leases_refuse_stale_resource_versions_and_watches_stream_changes() {
    let estate = sample("epfl-k8s");
    let sim = start(&estate, None).await;
    let base = kube_base(&sim);
    let http = reqwest::Client::new();
    let leases = format!("{base}/apis/coordination.k8s.io/v1/namespaces/backend/leases");
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "runbook-restart"}, "spec": {"holderIdentity": "alice", "leaseDurationSeconds": 300}});
    let created = http
        .post(&leases)
        .json(&lease)
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("JSON");
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resource version")
        .to_string();
    let again = http
        .post(&leases)
        .json(&lease)
        .send()
        .await
        .expect("answers");
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.expect("JSON")["reason"],
        "AlreadyExists"
    );

    let mut update = created.clone();
    update["spec"]["holderIdentity"] = "bob".into();
    let ok = http
        .put(format!("{leases}/runbook-restart"))
        .json(&update)
        .send()
        .await
        .expect("answers");
    assert_eq!(ok.status(), 200);
    let stored: Value = ok.json().await.expect("JSON");
    assert_eq!(stored["spec"]["holderIdentity"], "bob");
    assert_ne!(
        stored["metadata"]["resourceVersion"].as_str(),
        Some(rv.as_str())
    );
    let stale = http
        .put(format!("{leases}/runbook-restart"))
        .json(&update)
        .send()
        .await
        .expect("answers");
    assert_eq!(stale.status(), 409, "the old resource version conflicts");
    let status: Value = stale.json().await.expect("JSON");
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("Conflict"))
    );
    let missing = http
        .get(format!("{leases}/nope"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.expect("JSON")["message"],
        "leases.coordination.k8s.io \"nope\" not found"
    );

    let deployments = format!("{base}/apis/apps/v1/namespaces/backend/deployments");
    let list: Value = http
        .get(&deployments)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["kind"], "DeploymentList");
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("a list resource version")
        .to_string();
    let mut watch = http
        .get(format!(
            "{deployments}?watch=true&allowWatchBookmarks=true&resourceVersion={from}"
        ))
        .send()
        .await
        .expect("the watch opens");
    let scale = http
        .patch(format!("{deployments}/backend/scale"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"spec":{"replicas":3}}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(scale.status(), 200);
    assert_eq!(
        scale.json::<Value>().await.expect("JSON")["spec"]["replicas"],
        3
    );
    let mut text = String::new();
    while !text.contains("\"replicas\":3") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(20), watch.chunk())
            .await
            .expect("an event within 20 s")
            .expect("the stream continues")
            .expect("the stream is open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let event: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("one JSON event per line"))
        .find(|e| e["object"]["spec"]["replicas"] == 3)
        .expect("the scaled deployment");
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["metadata"]["name"], "backend");

    let gone = http
        .get(format!("{deployments}?watch=true&resourceVersion=1"))
        .send()
        .await
        .expect("answers");
    let first: Value = serde_json::from_str(
        gone.text()
            .await
            .expect("a body")
            .lines()
            .next()
            .expect("an event"),
    )
    .expect("JSON");
    assert_eq!(first["type"], "ERROR");
    assert_eq!(
        (
            first["object"]["code"].as_u64(),
            first["object"]["reason"].as_str()
        ),
        (Some(410), Some("Expired"))
    );
    assert!(sim.cluster_requests() >= 9);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_estate_is_redirected_and_bad_settings_are_refused() {
    let estate = sample("deplate");
    let sim = start(&estate, None).await;
    let redirected = sim::redirect(&estate, &sim);
    assert!(url_of(&redirected, "redis").starts_with("redis://127.0.0.1:"));
    assert!(url_of(&redirected, "jobs").ends_with("/0"));
    assert_ne!(
        url_of(&redirected, "redis"),
        url_of(&redirected, "jobs"),
        "the Sentinel and the master listen apart"
    );
    assert!(url_of(&redirected, "replica-lag").ends_with("/metrics"));
    let Target::K8sWorkload { context, .. } =
        &redirected.service("backend").expect("backend").target
    else {
        panic!("a workload")
    };
    assert_eq!(
        context.as_deref(),
        Some("deplate-prod"),
        "contexts stay as the kubeconfig names them"
    );
    assert!(sim.kubeconfig_path().is_some_and(std::path::Path::is_file));
    let kinds: Vec<&str> = sim.cluster_endpoints().iter().map(|e| e.kind).collect();
    for kind in [
        "kubernetes",
        "redis",
        "sentinel",
        "rabbitmq",
        "prometheus",
        "exporter",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let path = sim.kubeconfig_path().map(std::path::Path::to_path_buf);
    sim.shutdown().await;
    assert!(
        path.is_some_and(|p| !p.exists()),
        "the kubeconfig goes with the simulator"
    );

    let bad = scenario::parse(
        "name = \"x\"\n[[event]]\nservice = \"redis\"\nset = { up = \"no\" }\n",
        "bad.toml",
    )
    .expect("parses");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let err = sim::start(&estate, Some(bad), listen)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("set key 'up' is \"no\"") && err.contains("on the redis service 'redis'"),
        "{err}"
    );
}
