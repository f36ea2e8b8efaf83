//! The `redis` and `redis_queue` probes against real Redis servers: the shared one on
//! 127.0.0.1:6379, and private redis-server processes on free ports for the faults (a replica
//! whose master is killed, a tiny maxmemory filled up, requirepass with TLS, Sentinels).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Server, free_port, have, live, observed, poll, port_open, run};
use opsdeck::estate::{QueueFormat, Thresholds};
use opsdeck::model::{Observation, Status};
use opsdeck::probe::redis::{self, Connect};
use opsdeck::probe::redis_queue;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn redis_server_available() -> bool {
    live("the redis-server program", have("redis-server"))
}

/// A private redis-server with these extra arguments, its files in `dir`.
fn private_redis(dir: &Path, name: &str, args: &[&str]) -> Server {
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--dbfilename", &format!("{name}.rdb")])
        .args(args);
    Server::start(name, &mut cmd, port)
}

async fn look(url: &str) -> Observation {
    observed(redis::probe(url, None, None).await)
}

fn metric<'a>(obs: &'a Observation, key: &str) -> &'a Value {
    obs.metrics.get(key).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn the_shared_redis_is_an_up_master() {
    if !live("Redis at 127.0.0.1:6379", port_open(6379)) {
        return;
    }
    let obs = look("redis://127.0.0.1:6379").await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(obs.summary.starts_with("master · "), "{}", obs.summary);
    assert_eq!(metric(&obs, "role"), "master");
    assert!(metric(&obs, "connected_clients").as_u64() >= Some(1));
    assert!(metric(&obs, "ping_ms").is_number());
}

#[tokio::test]
async fn a_closed_port_is_down_and_an_unset_password_variable_is_unknown() {
    let port = free_port();
    let obs = look(&format!("redis://127.0.0.1:{port}")).await;
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("Redis at redis://127.0.0.1:{port} refused the connection").as_str())
    );
    let obs = observed(
        redis::probe(
            "redis://127.0.0.1:6379",
            Some("OPSDECK_TEST_SURELY_UNSET_REDIS_PASSWORD"),
            None,
        )
        .await,
    );
    assert_eq!(obs.status, Status::Unknown);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            "environment variable OPSDECK_TEST_SURELY_UNSET_REDIS_PASSWORD (password_env) is not set"
        )
    );
}

#[tokio::test]
async fn a_replica_whose_master_is_killed_is_degraded() {
    if !redis_server_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut master = private_redis(dir.path(), "master", &[]);
    let replica = private_redis(
        dir.path(),
        "replica",
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    let replica_url = format!("redis://127.0.0.1:{}", replica.port);
    let obs = poll(WAIT, || look(&replica_url), |o| o.status == Status::Up).await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    let master_addr = format!("127.0.0.1:{}", master.port);
    assert!(
        obs.summary
            .starts_with(&format!("replica of {master_addr} · link up · ")),
        "{}",
        obs.summary
    );
    let master_url = format!("redis://{master_addr}");
    let seen = poll(
        WAIT,
        || look(&master_url),
        |o| metric(o, "replicas_online") == 1,
    )
    .await;
    assert_eq!(seen.status, Status::Up, "{seen:?}");
    assert!(
        seen.summary.starts_with("master · 1 replica online · "),
        "{}",
        seen.summary
    );

    master.kill();
    let obs = poll(
        WAIT,
        || look(&replica_url),
        |o| o.status == Status::Degraded,
    )
    .await;
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    let error = obs.error.clone().expect("a reason");
    assert!(
        error.starts_with(&format!("The link to its master {master_addr} is down")),
        "{error}"
    );
    assert_eq!(metric(&obs, "master_link_status"), "down");
    assert_eq!(look(&master_url).await.status, Status::Down);
}

#[tokio::test]
async fn a_full_tiny_maxmemory_with_evictions_is_degraded() {
    if !redis_server_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = private_redis(
        dir.path(),
        "small",
        &["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"],
    );
    let url = format!("redis://127.0.0.1:{}", server.port);
    let before = look(&url).await;
    assert_eq!(before.status, Status::Up, "{before:?}");
    assert_eq!(metric(&before, "evicted_keys"), 0);

    let client = ::redis::Client::open(url.as_str()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let value = "x".repeat(10 * 1024);
    for i in 0..600 {
        let () = ::redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query_async(&mut conn)
            .await
            .expect("SET");
    }
    let after = look(&url).await;
    assert_eq!(after.status, Status::Degraded, "{after:?}");
    let error = after.error.clone().expect("a reason");
    assert!(
        error.contains("keys evicted since the last probe (maxmemory-policy allkeys-lru)"),
        "{error}"
    );
    assert!(metric(&after, "evicted_keys").as_u64() > Some(0));
    assert_eq!(metric(&after, "maxmemory"), 2 * 1024 * 1024);
    assert!(after.summary.contains(" of 2 MB · "), "{}", after.summary);
}

/// A CA and a server certificate for 127.0.0.1, made with the openssl program.
fn make_certificates(dir: &Path) {
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-days", "2", "-subj", "/CN=opsdeck test CA"])
        .args(ec)
        .args(["-keyout", "ca.key", "-out", "ca.crt"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-subj", "/CN=127.0.0.1"])
        .args(ec)
        .args(["-keyout", "server.key", "-out", "server.csr"]));
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-req", "-days", "2", "-in", "server.csr"])
        .args(["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"])
        .args(["-out", "server.crt", "-extfile", "server.ext"]));
}

const PASSWORD: &str = "opsdeck-test-Zq8rW2xv";

fn no_secret(obs: &Observation, secret: &str) {
    let all = format!("{obs:?}");
    assert!(!all.contains(secret), "the password leaked: {all}");
}

#[tokio::test]
async fn tls_and_password_cases() {
    if !redis_server_available() || !live("the openssl program", have("openssl")) {
        return;
    }
    common::install_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    make_certificates(dir.path());
    let cert = |f: &str| dir.path().join(f).display().to_string();
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .args(["--tls-port", &port.to_string()])
    .args(["--tls-cert-file", &cert("server.crt")])
    .args(["--tls-key-file", &cert("server.key")])
    .args(["--tls-ca-cert-file", &cert("ca.crt")])
    .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
    .arg("--dir")
    .arg(dir.path());
    let _server = Server::start("redis-server with TLS", &mut cmd, port);
    let url = format!("rediss://127.0.0.1:{port}");
    let ca = std::fs::read(dir.path().join("ca.crt")).expect("ca");

    let good = Connect::new(&url, Some(PASSWORD.to_string())).with_roots(ca.clone());
    let obs = observed(redis::probe_with(&good, None).await);
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(obs.summary.starts_with("master · "), "{}", obs.summary);
    no_secret(&obs, PASSWORD);

    let wrong = "opsdeck-wrong-Kp3nM7";
    let bad = Connect::new(&url, Some(wrong.to_string())).with_roots(ca.clone());
    let obs = observed(redis::probe_with(&bad, None).await);
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    let error = obs.error.clone().expect("a reason");
    assert!(
        error.starts_with(&format!("Redis at {url} rejected the credentials: ")),
        "{error}"
    );
    assert!(
        error.contains("WRONGPASS") || error.contains("invalid"),
        "{error}"
    );
    no_secret(&obs, wrong);

    let anonymous = Connect::new(&url, None).with_roots(ca);
    let obs = observed(redis::probe_with(&anonymous, None).await);
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(obs.error.expect("a reason").contains("NOAUTH"));

    let untrusted = Connect::new(&url, Some(PASSWORD.to_string()));
    let obs = observed(redis::probe_with(&untrusted, None).await);
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(
        obs.error
            .expect("a reason")
            .contains("presented a certificate opsdeck does not trust"),
    );

    // The whole path through the binary: the estate names the variable, the password comes
    // from the environment, the certificate is trusted through the system trust store.
    let estate = dir.path().join("estate.toml");
    std::fs::write(
        &estate,
        format!(
            "name = \"live-redis\"\n\n[[service]]\nid = \"cache\"\nname = \"private Redis over TLS\"\nkind = \"redis\"\nurl = \"{url}\"\npassword_env = \"OPSDECK_TEST_REDIS_PASSWORD\"\nsev = 2\n"
        ),
    )
    .expect("estate");
    let once = |password: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
        cmd.args(["--once", "--json", "--estate"])
            .arg(&estate)
            .env("SSL_CERT_FILE", dir.path().join("ca.crt"))
            .env_remove("OPSDECK_TEST_REDIS_PASSWORD");
        if let Some(p) = password {
            cmd.env("OPSDECK_TEST_REDIS_PASSWORD", p);
        }
        let out = cmd.output().expect("run opsdeck");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(PASSWORD), "the password leaked: {text}");
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        doc["services"][0].clone()
    };
    let service = once(Some(PASSWORD));
    assert_eq!(service["status"], "up", "{service}");
    assert_eq!(service["metrics"]["role"], "master");
    let service = once(None);
    assert_eq!(service["status"], "unknown", "{service}");
    assert_eq!(
        service["error"],
        "environment variable OPSDECK_TEST_REDIS_PASSWORD (password_env) is not set"
    );
}

/// A Sentinel watching the master at `master_port`, with quorum 1.
fn private_sentinel(dir: &Path, master_port: u16) -> Server {
    let port = free_port();
    let conf = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {master_port} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 60000\n",
            dir.display()
        ),
    )
    .expect("sentinel config");
    let mut cmd = Command::new("redis-server");
    cmd.arg(&conf).arg("--sentinel");
    Server::start("redis-sentinel", &mut cmd, port)
}

async fn look_sentinel(port: u16, master: &str) -> Observation {
    observed(redis::probe(&format!("redis://127.0.0.1:{port}"), None, Some(master)).await)
}

#[tokio::test]
async fn a_sentinel_reports_its_master_replicas_and_quorum() {
    if !redis_server_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let master = private_redis(dir.path(), "master", &[]);
    let replica = private_redis(
        dir.path(),
        "replica",
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    let replica_url = format!("redis://127.0.0.1:{}", replica.port);
    let linked = poll(WAIT, || look(&replica_url), |o| o.status == Status::Up).await;
    assert_eq!(linked.status, Status::Up, "{linked:?}");
    let sentinel = private_sentinel(dir.path(), master.port);

    let obs = poll(
        WAIT,
        || look_sentinel(sentinel.port, "mymaster"),
        |o| o.status == Status::Up,
    )
    .await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert_eq!(
        obs.summary,
        format!(
            "sentinel · master 'mymaster' at 127.0.0.1:{} · 1 replica · 1 sentinels · quorum 1",
            master.port
        )
    );
    assert_eq!(obs.metrics["masters"]["mymaster"]["quorum_reachable"], true);

    let obs = look_sentinel(master.port, "mymaster").await;
    assert_eq!(obs.status, Status::Unknown);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            format!(
                "Redis at redis://127.0.0.1:{} is not a Sentinel (redis_mode standalone), yet the estate names sentinel_master 'mymaster'",
                master.port
            )
            .as_str()
        )
    );

    let obs = look_sentinel(sentinel.port, "othermaster").await;
    assert_eq!(obs.status, Status::Unknown);
    assert_eq!(
        obs.error.as_deref(),
        Some("the sentinel monitors no master named 'othermaster' (it monitors: mymaster)")
    );
}

#[tokio::test]
async fn a_sentinel_whose_lone_master_dies_reports_it_down() {
    if !redis_server_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut master = private_redis(dir.path(), "master", &[]);
    let sentinel = private_sentinel(dir.path(), master.port);
    let obs = poll(
        WAIT,
        || look_sentinel(sentinel.port, "mymaster"),
        |o| o.status == Status::Degraded,
    )
    .await;
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    assert_eq!(
        obs.error.as_deref(),
        Some("master 'mymaster' has no replica to fail over to.")
    );

    master.kill();
    let obs = poll(
        WAIT,
        || look_sentinel(sentinel.port, "mymaster"),
        |o| o.status == Status::Down,
    )
    .await;
    assert_eq!(obs.status, Status::Down, "{obs:?}");
    let error = obs.error.expect("a reason");
    assert!(
        error.starts_with(&format!(
            "master 'mymaster' at 127.0.0.1:{} is objectively down (flags ",
            master.port
        )),
        "{error}"
    );
}

#[tokio::test]
async fn celery_and_laravel_queues_on_a_private_redis() {
    if !redis_server_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = private_redis(dir.path(), "broker", &[]);
    let url = format!("redis://127.0.0.1:{}/0", server.port);
    let client = ::redis::Client::open(url.as_str()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut pipe = ::redis::pipe();
    for i in 0..7 {
        pipe.cmd("LPUSH")
            .arg("fal")
            .arg(format!("{{\"body\":\"{i}\"}}"));
    }
    pipe.cmd("LPUSH")
        .arg("fal\x06\x163")
        .arg("{\"body\":\"p3\"}");
    pipe.cmd("HSET").arg("unacked").arg("tag-1").arg("{}");
    for i in 0..3 {
        let created = now - 900 + i * 60;
        pipe.cmd("RPUSH")
            .arg("queues:emails")
            .arg(format!("{{\"uuid\":\"u{i}\",\"job\":\"Illuminate\\\\Queue\\\\CallQueuedHandler@call\",\"createdAt\":{created}}}"));
    }
    pipe.cmd("ZADD")
        .arg("queues:emails:delayed")
        .arg(now + 600)
        .arg("{\"uuid\":\"later\"}");
    pipe.cmd("ZADD")
        .arg("queues:emails:reserved")
        .arg(now + 90)
        .arg("{\"uuid\":\"busy\"}");
    pipe.cmd("SET").arg("not-a-list").arg("x");
    let () = pipe.query_async(&mut conn).await.expect("fill the queues");

    let connect = Connect::new(&url, None);
    let celery = Thresholds {
        warn_depth: Some(5),
        crit_depth: Some(100),
        max_oldest_age: None,
    };
    let obs =
        observed(redis_queue::probe_with(&connect, "fal", QueueFormat::Celery, &celery).await);
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    assert_eq!(
        obs.error.as_deref(),
        Some("Celery queue 'fal' holds 8 messages, above warn_depth 5")
    );
    let figures = obs.queue.expect("queue figures");
    assert_eq!(figures.depth, Some(8));
    assert_eq!(
        figures.extra["priority_depths"],
        serde_json::json!({"0": 7, "3": 1})
    );
    assert_eq!(figures.extra["unacked_all_queues"], 1);

    let laravel = Thresholds {
        warn_depth: Some(10),
        crit_depth: None,
        max_oldest_age: Some(Duration::from_secs(600)),
    };
    let obs =
        observed(redis_queue::probe_with(&connect, "emails", QueueFormat::Laravel, &laravel).await);
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    assert!(
        obs.error
            .as_deref()
            .is_some_and(|e| e.starts_with("Laravel queue 'emails' has a message waiting for 15m")),
        "{:?}",
        obs.error
    );
    assert!(
        obs.summary.starts_with("3 waiting · oldest 15m"),
        "{}",
        obs.summary
    );
    assert!(
        obs.summary.ends_with(" · 1 delayed · 1 reserved"),
        "{}",
        obs.summary
    );
    let figures = obs.queue.expect("queue figures");
    assert!(
        figures
            .oldest_age_s
            .is_some_and(|a| (900.0..960.0).contains(&a))
    );

    let obs = observed(
        redis_queue::probe_with(&connect, "not-a-list", QueueFormat::Celery, &celery).await,
    );
    assert_eq!(obs.status, Status::Unknown);
    assert!(
        obs.error
            .expect("a reason")
            .contains("key 'not-a-list' is not a list")
    );

    let empty =
        observed(redis_queue::probe_with(&connect, "idle", QueueFormat::Celery, &celery).await);
    assert_eq!(empty.status, Status::Up);
    assert_eq!(empty.summary, "0 waiting");
}
