//! redis-cli against the simulated Redis servers and Sentinel: INFO replication on the master
//! and the replica, LLEN of Celery and Laravel queues, SENTINEL masters, SENTINEL failover
//! (and the roles after it), and the replica-link-down and master-down scenarios. Without
//! redis-cli the tests say so and skip, unless OPSDECK_REQUIRE_LIVE=1.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use opsdeck::estate::{self, Estate, Target};
use opsdeck::sim::{self, SimHandle, scenario};

const ESTATE: &str = r#"
name = "jobs-prod"

[[region]]
id = "prod"

[[service]]
id = "redis"
name = "Redis (Sentinel)"
kind = "redis"
region = "prod"
url = "redis://10.30.0.40:26379"
sentinel_master = "mymaster"
sev = 1

[[service]]
id = "jobs"
name = "Laravel jobs"
kind = "redis_queue"
region = "prod"
url = "redis://10.30.0.40:6379/0"
queue = "default"
format = "laravel"
sev = 2

[[service]]
id = "cache"
name = "Cache Redis"
kind = "redis"
region = "prod"
url = "redis://10.30.0.41:6379/0"
sev = 3

[[service]]
id = "celery"
name = "Celery queue"
kind = "redis_queue"
region = "prod"
url = "redis://10.30.0.41:6379/2"
queue = "celery"
sev = 3
"#;

struct Redis {
    sim: SimHandle,
    /// Service id → loopback port.
    ports: BTreeMap<String, u16>,
}

async fn start(scenario: Option<&str>) -> Option<Redis> {
    if !common::live("redis-cli", common::have("redis-cli")) {
        return None;
    }
    let (estate, _) = estate::from_str(ESTATE, "jobs.toml").expect("the estate loads");
    let scenario = scenario.map(|s| scenario::parse(s, "test.toml").expect("parses"));
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let sim = sim::start(&estate, scenario, listen)
        .await
        .expect("the simulator starts");
    let ports = ports(&sim::redirect(&estate, &sim));
    Some(Redis { sim, ports })
}

fn ports(redirected: &Estate) -> BTreeMap<String, u16> {
    redirected
        .services
        .iter()
        .filter_map(|s| match &s.target {
            Target::Redis { url, .. } | Target::RedisQueue { url, .. } => {
                let rest = url
                    .strip_prefix("redis://127.0.0.1:")
                    .unwrap_or_else(|| panic!("{url} points at the simulator"));
                Some((s.id.clone(), rest.split('/').next()?.parse().ok()?))
            }
            _ => None,
        })
        .collect()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `key:value` lines of an INFO answer.
fn info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs until `done` holds for the output (or 20 s pass).
fn until(port: u16, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = cli(port, args);
        if done(&out) || start.elapsed() > Duration::from_secs(20) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_reads_replication_queues_and_sentinel_then_fails_over() {
    let Some(r) = start(None).await else { return };
    let sentinel = r.ports["redis"];
    let master = r.ports["jobs"];

    let addr = cli(
        sentinel,
        &["SENTINEL", "get-master-addr-by-name", "mymaster"],
    );
    assert_eq!(
        addr.lines().collect::<Vec<_>>(),
        ["127.0.0.1", &master.to_string()]
    );

    let m = info(&cli(master, &["INFO", "replication"]));
    assert_eq!(m["role"], "master");
    assert_eq!(m["connected_slaves"], "1");
    let replica: u16 = m["slave0"]
        .split(',')
        .find_map(|f| f.strip_prefix("port="))
        .and_then(|p| p.parse().ok())
        .expect("slave0 names the replica's port");
    let rep = info(&cli(replica, &["INFO", "replication"]));
    assert_eq!(rep["role"], "slave");
    assert_eq!(rep["master_port"], master.to_string());
    assert_eq!(rep["master_link_status"], "up");

    let all = info(&cli(master, &["INFO", "everything"]));
    for key in [
        "redis_version",
        "connected_clients",
        "used_memory",
        "maxmemory",
        "evicted_keys",
        "db0",
        "cluster_enabled",
        "used_cpu_sys",
    ] {
        assert!(all.contains_key(key), "INFO everything has {key}");
    }
    assert!(all["used_memory"].parse::<u64>().is_ok_and(|n| n > 0));

    let jobs: u64 = cli(master, &["LLEN", "queues:default"])
        .trim()
        .parse()
        .expect("LLEN is a number");
    assert!(jobs > 0, "the Laravel queue holds jobs");
    assert_eq!(
        cli(replica, &["LLEN", "queues:default"]).trim(),
        jobs.to_string(),
        "the replica holds the same list"
    );
    assert_eq!(
        cli(master, &["LLEN", "celery"]).trim(),
        "0",
        "no such list on this server"
    );
    let celery = r.ports["celery"];
    let queued: u64 = cli(celery, &["-n", "2", "LLEN", "celery"])
        .trim()
        .parse()
        .expect("a number");
    assert!(queued > 0, "the Celery queue lives in db 2");
    assert_eq!(
        cli(celery, &["LLEN", "celery"]).trim(),
        "0",
        "and not in db 0"
    );
    assert_eq!(cli(celery, &["-n", "2", "TYPE", "celery"]).trim(), "list");
    assert!(cli(celery, &["NOSUCHCOMMAND", "x"]).contains("ERR unknown command 'NOSUCHCOMMAND'"));

    let masters = cli(sentinel, &["SENTINEL", "masters"]);
    let fields: Vec<&str> = masters.lines().collect();
    let field = |name: &str| {
        fields
            .iter()
            .position(|l| *l == name)
            .and_then(|i| fields.get(i + 1))
            .copied()
    };
    assert_eq!(field("name"), Some("mymaster"));
    assert_eq!(field("port"), Some(master.to_string().as_str()));
    assert_eq!(field("flags"), Some("master"));
    assert_eq!(field("num-slaves"), Some("1"));

    assert_eq!(
        cli(sentinel, &["SENTINEL", "failover", "mymaster"]).trim(),
        "OK"
    );
    let addr = until(
        sentinel,
        &["SENTINEL", "get-master-addr-by-name", "mymaster"],
        |o| o.contains(&replica.to_string()),
    );
    assert_eq!(
        addr.lines().nth(1),
        Some(replica.to_string().as_str()),
        "the replica is the master now"
    );
    assert_eq!(
        info(&cli(replica, &["INFO", "replication"]))["role"],
        "master"
    );
    let old = info(&cli(master, &["INFO", "replication"]));
    assert_eq!(old["role"], "slave");
    assert_eq!(old["master_port"], replica.to_string());
    assert!(cli(master, &["LPUSH", "queues:default", "x"]).contains("READONLY"));
    assert!(cli(sentinel, &["SENTINEL", "failover", "nosuch"]).contains("No such master"));
    r.sim.shutdown().await;
}

/// The replica's port, as Sentinel reports it.
fn replica_port(sentinel: u16) -> u16 {
    cli(sentinel, &["SENTINEL", "replicas", "mymaster"])
        .lines()
        .skip_while(|l| *l != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("SENTINEL replicas names the replica's port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_sees_the_replica_link_down() {
    let Some(r) = start(Some(
        "name = \"x\"\n[[event]]\nservice = \"redis\"\nset = { master_link_status = \"down\" }\n",
    ))
    .await
    else {
        return;
    };
    let master = r.ports["jobs"];
    let replica = replica_port(r.ports["redis"]);
    let rep = info(&cli(replica, &["INFO", "replication"]));
    assert_eq!(rep["role"], "slave");
    assert_eq!(rep["master_link_status"], "down");
    assert_eq!(rep["master_last_io_seconds_ago"], "-1");
    assert!(rep.contains_key("master_link_down_since_seconds"));
    let m = info(&cli(master, &["INFO", "replication"]));
    assert_eq!(m["connected_slaves"], "0", "the master sees no replica");
    assert!(!m.contains_key("slave0"));
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_sees_sentinel_replace_a_dead_master() {
    let Some(r) = start(Some(
        "name = \"x\"\nspeed = 60\n[[event]]\nservice = \"redis\"\nset = { up = false, failover_after = \"30s\" }\n",
    ))
    .await
    else {
        return;
    };
    let sentinel = r.ports["redis"];
    let master = r.ports["jobs"];
    let replica = replica_port(sentinel);
    let addr = until(
        sentinel,
        &["SENTINEL", "get-master-addr-by-name", "mymaster"],
        |o| o.contains(&replica.to_string()),
    );
    assert!(
        addr.contains(&replica.to_string()),
        "Sentinel promoted the replica: {addr}"
    );
    let dead = cli(master, &["PING"]);
    assert!(
        dead.contains("Connection refused") || dead.contains("Could not connect"),
        "the dead master refuses: {dead}"
    );
    assert_eq!(
        info(&cli(replica, &["INFO", "replication"]))["role"],
        "master"
    );
    assert!(cli(sentinel, &["INFO", "sentinel"]).contains(&format!("address=127.0.0.1:{replica}")));
    let jobs: u64 = cli(replica, &["LLEN", "queues:default"])
        .trim()
        .parse()
        .expect("a number");
    assert!(jobs > 0, "the promoted replica holds the queue");
    r.sim.shutdown().await;
}
