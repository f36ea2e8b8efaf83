//! kubectl 1.32 against the simulated Kubernetes API: discovery, `get deploy -A`, the READY and
//! STATUS columns of a crash-looping pod, `scale` then `get`, and `rollout restart` followed by
//! `rollout status` until the rollout completes on the scenario clock. Without kubectl the
//! tests say so and skip, unless OPSDECK_REQUIRE_LIVE=1.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use opsdeck::estate;
use opsdeck::sim::{self, SimHandle, scenario};

const ESTATE: &str = r#"
name = "shop-prod"
environment = "prod"

[[region]]
id = "eu"
kube_context = "shop-eu"

[[service]]
id = "web"
name = "Web"
kind = "k8s_workload"
region = "eu"
namespace = "shop"
workload = "deployment/web"
sev = 1

[[service]]
id = "api"
name = "API"
kind = "k8s_workload"
region = "eu"
namespace = "shop"
workload = "deployment/api"
sev = 1

[[service]]
id = "queue"
name = "Broker"
kind = "k8s_workload"
region = "eu"
namespace = "data"
workload = "statefulset/rabbitmq"
sev = 2
"#;

/// The api pods crash-loop from the start; the clock runs 60 times faster than the wall.
const SCENARIO: &str = r#"
name = "api-crashloop"
summary = "The api pods crash."
speed = 60

[[event]]
service = "api"
set = { fault = "CrashLoopBackOff" }
"#;

struct Kubectl {
    sim: SimHandle,
    config: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    async fn start() -> Option<Kubectl> {
        if !common::live("kubectl", common::have("kubectl")) {
            return None;
        }
        let (estate, _) = estate::from_str(ESTATE, "shop.toml").expect("the estate loads");
        let scenario = scenario::parse(SCENARIO, "api-crashloop.toml").expect("parses");
        let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let sim = sim::start(&estate, Some(scenario), listen)
            .await
            .expect("the simulator starts");
        let config = sim.kubeconfig_path().expect("a kubeconfig").to_path_buf();
        let home = tempfile::tempdir().expect("a temporary home");
        Some(Kubectl { sim, config, home })
    }

    fn run(&self, args: &[&str]) -> Output {
        let cache = self.home.path().join("cache");
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.config)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["--context", "shop-eu", "--request-timeout", "20s"])
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `get` until `done` holds for its output (or 30 s pass); returns the last output.
    fn until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let out = self.ok(args);
            if done(&out) || start.elapsed() > Duration::from_secs(30) {
                return out;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The cells of the row whose first (or, with -A, second) cell is `name`.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&name) || cells.get(1) == Some(&name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"))
}

fn header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

fn assert_is_kubeconfig(path: &Path) {
    let text = std::fs::read_to_string(path).expect("the kubeconfig is readable");
    assert!(text.contains("current-context: \"shop-eu\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_discovery_workloads_and_a_crash_looping_pod() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    assert_is_kubeconfig(&k.config);

    let version: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "--raw", "/version"])).expect("/version is JSON");
    assert_eq!(version["gitVersion"], "v1.33.1");
    assert_eq!(version["major"], "1");

    let deploys = k.ok(&["get", "deploy", "-A"]);
    assert_eq!(
        header(&deploys),
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ]
    );
    let web = row(&deploys, "web");
    assert_eq!((web[0], web[2], web[3], web[4]), ("shop", "2/2", "2", "2"));
    let api = row(&deploys, "api");
    assert_eq!(
        (api[2], api[4]),
        ("0/2", "0"),
        "crash-looping pods are not ready"
    );

    let sts = k.ok(&["get", "statefulsets", "-n", "data"]);
    assert_eq!(row(&sts, "rabbitmq")[1], "3/3");

    let pods = k.until(&["get", "pods", "-n", "shop"], |out| {
        out.lines()
            .filter(|l| l.starts_with("api-"))
            .all(|l| l.split_whitespace().nth(3).is_some_and(|r| r != "0"))
    });
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let api_pods: Vec<Vec<&str>> = pods
        .lines()
        .filter(|l| l.starts_with("api-"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(api_pods.len(), 2, "{pods}");
    for p in &api_pods {
        assert_eq!(p[1], "0/1", "{pods}");
        assert_eq!(p[2], "CrashLoopBackOff", "{pods}");
        let restarts: u32 = p[3].parse().expect("a restart count");
        assert!(restarts > 0, "{pods}");
        assert!(
            p[4].starts_with('(') && p[5] == "ago)",
            "the last restart's age: {pods}"
        );
    }
    for line in pods.lines().filter(|l| l.starts_with("web-")) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (cells[1], cells[2], cells[3]),
            ("1/1", "Running", "0"),
            "{pods}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "deploy", "api", "-n", "shop", "-o", "json"]))
            .expect("JSON");
    let available = json["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Available"))
        .expect("an Available condition");
    assert_eq!(available["status"], "False");
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");

    let missing = k.run(&["get", "deploy", "nope", "-n", "shop"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("deployments.apps \"nope\" not found"), "{err}");
    k.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scales_and_restarts_a_deployment_until_it_rolls_out() {
    let Some(k) = Kubectl::start().await else {
        return;
    };

    let out = k.ok(&["scale", "deploy/web", "--replicas=4", "-n", "shop"]);
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    let deploys = k.until(&["get", "deploy", "web", "-n", "shop"], |out| {
        row(out, "web")[1] == "4/4"
    });
    assert_eq!(row(&deploys, "web")[1], "4/4", "{deploys}");

    let before = k.ok(&["get", "pods", "-n", "shop", "-l", "app=web", "-o", "name"]);
    assert_eq!(before.lines().count(), 4, "{before}");

    let out = k.ok(&["rollout", "restart", "deploy/web", "-n", "shop"]);
    assert_eq!(out.trim(), "deployment.apps/web restarted");
    let status = k.ok(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "shop",
        "--timeout=60s",
    ]);
    assert!(
        status.contains("deployment \"web\" successfully rolled out"),
        "{status}"
    );

    let after = k.ok(&["get", "pods", "-n", "shop", "-l", "app=web", "-o", "name"]);
    assert_eq!(after.lines().count(), 4, "{after}");
    for pod in after.lines() {
        assert!(!before.contains(pod), "{pod} was replaced by the rollout");
    }
    let json: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "deploy", "web", "-n", "shop", "-o", "json"]))
            .expect("JSON");
    assert!(
        json["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    assert_eq!(
        json["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(json["status"]["updatedReplicas"], 4);

    k.sim.shutdown().await;
}
