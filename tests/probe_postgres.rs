//! The `postgres` probe against real PostgreSQL: the shared server on 127.0.0.1:5432 (trust
//! auth), and a private cluster the test builds with scram authentication, a streaming replica
//! (pg_basebackup) and PgBouncer in front, whose primary it then kills.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Server, free_port, give, have, live, observed, poll, port_open, run, user_ids};
use opsdeck::model::{Observation, Status};
use opsdeck::probe::postgres;
use serde_json::Value;

const PASSWORD: &str = "opsdeck-pg-Vt6yB3qe";
const WAIT: Duration = Duration::from_secs(30);

async fn look(url: &str) -> Observation {
    observed(postgres::probe(url, None).await)
}

/// The newest installed PostgreSQL's program directory.
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

#[tokio::test]
async fn the_shared_server_is_an_up_primary() {
    if !live("PostgreSQL at 127.0.0.1:5432", port_open(5432)) {
        return;
    }
    let obs = look("postgres://postgres@127.0.0.1:5432/postgres").await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(obs.summary.starts_with("primary · "), "{}", obs.summary);
    assert!(
        obs.summary.contains(" connections · PostgreSQL "),
        "{}",
        obs.summary
    );
    assert_eq!(obs.metrics["role"], "primary");
    assert!(obs.metrics["connections"].as_u64() >= Some(1));
    assert!(obs.metrics["max_connections"].as_u64() > Some(0));

    let obs = look("postgres://postgres@127.0.0.1:5432/opsdeck_no_such_database").await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(obs.error.expect("a reason").contains("does not exist"));

    let obs = look("postgres://postgres@127.0.0.1:5432/postgres?sslmode=require").await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(obs.error.expect("a reason").contains("sslmode=require"));

    let port = free_port();
    let obs = look(&format!("postgres://postgres@127.0.0.1:{port}/postgres")).await;
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            format!(
                "PostgreSQL at postgres://postgres@127.0.0.1:{port}/postgres refused the connection"
            )
            .as_str()
        )
    );
}

/// A command run as the postgres user.
fn as_postgres(program: &Path) -> Command {
    let (uid, gid) = user_ids("postgres");
    let mut cmd = Command::new(program);
    cmd.uid(uid).gid(gid).env("HOME", "/tmp");
    cmd
}

fn start_postgres(bin: &Path, data: &Path, sockets: &Path, port: u16, name: &str) -> Server {
    let mut cmd = as_postgres(&bin.join("postgres"));
    cmd.arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "wal_receiver_timeout=2s"])
        .arg("-k")
        .arg(sockets);
    Server::start(name, &mut cmd, port)
}

fn start_pgbouncer(dir: &Path, primary_port: u16) -> Server {
    let port = free_port();
    let users = dir.join("userlist.txt");
    std::fs::write(&users, format!("\"postgres\" \"{PASSWORD}\"\n")).expect("userlist");
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(
        &ini,
        format!(
            "[databases]\napp = host=127.0.0.1 port={primary_port} dbname=postgres\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {}\nadmin_users = postgres\npool_mode = transaction\nquery_wait_timeout = 2\nserver_connect_timeout = 1\nserver_login_retry = 1\nignore_startup_parameters = extra_float_digits,options\nlogfile = {}\n",
            users.display(),
            dir.join("pgbouncer.log").display()
        ),
    )
    .expect("pgbouncer.ini");
    give(dir, "postgres");
    let mut cmd = as_postgres(Path::new("/usr/sbin/pgbouncer"));
    cmd.arg(&ini);
    Server::start("pgbouncer", &mut cmd, port)
}

#[tokio::test]
async fn a_private_cluster_with_a_replica_and_pgbouncer() {
    if !live("PostgreSQL's programs (initdb)", pg_bin().is_some())
        || !live("the pgbouncer program", have("/usr/sbin/pgbouncer"))
    {
        return;
    }
    let bin = pg_bin().expect("initdb");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let pwfile = root.join("pw");
    std::fs::write(&pwfile, PASSWORD).expect("pwfile");
    give(root, "postgres");
    let primary_data = root.join("primary");
    run(as_postgres(&bin.join("initdb"))
        .arg("-D")
        .arg(&primary_data)
        .args([
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            "-N",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .arg(format!("--pwfile={}", pwfile.display())));
    let primary_port = free_port();
    let mut primary = start_postgres(&bin, &primary_data, root, primary_port, "primary");

    let replica_data = root.join("replica");
    run(as_postgres(&bin.join("pg_basebackup"))
        .env("PGPASSWORD", PASSWORD)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary_port.to_string(),
            "-U",
            "postgres",
        ])
        .arg("-D")
        .arg(&replica_data)
        .args(["-R", "-X", "stream", "-c", "fast"]));
    let replica_port = free_port();
    let _replica = start_postgres(&bin, &replica_data, root, replica_port, "replica");

    let primary_url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{primary_port}/postgres");
    let replica_url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{replica_port}/postgres");
    let obs = poll(
        WAIT,
        || look(&primary_url),
        |o| o.metrics.get("replicas") == Some(&Value::from(1)),
    )
    .await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(
        obs.summary.starts_with("primary · 1 replica streaming · "),
        "{}",
        obs.summary
    );
    assert!(!format!("{obs:?}").contains(PASSWORD));

    let obs = poll(WAIT, || look(&replica_url), |o| o.status == Status::Up).await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(
        obs.summary
            .starts_with("replica streaming from 127.0.0.1 · lag "),
        "{}",
        obs.summary
    );
    assert_eq!(obs.metrics["wal_receiver"], "streaming");

    let wrong = "opsdeck-wrong-Rz5cN1";
    let obs = look(&format!(
        "postgres://postgres:{wrong}@127.0.0.1:{primary_port}/postgres"
    ))
    .await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    let error = obs.error.clone().expect("a reason");
    assert!(
        error.contains("password authentication failed for user \"postgres\""),
        "{error}"
    );
    assert!(!format!("{obs:?}").contains(wrong));

    let obs = look(&format!(
        "postgres://postgres@127.0.0.1:{primary_port}/postgres"
    ))
    .await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(
        obs.error
            .expect("a reason")
            .contains("asks for a password and none is configured")
    );

    // PgBouncer in transaction pooling: the same probe through it, and its admin console.
    let bouncer = start_pgbouncer(root, primary_port);
    let via = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/app",
        bouncer.port
    );
    let obs = look(&via).await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(
        obs.summary.starts_with("primary · 1 replica streaming · "),
        "{}",
        obs.summary
    );
    let console = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/pgbouncer",
        bouncer.port
    );
    let obs = look(&console).await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(obs.summary.starts_with("PgBouncer "), "{}", obs.summary);
    assert_eq!(obs.metrics["role"], "pgbouncer");
    assert!(obs.metrics["pools"].as_u64() >= Some(1), "{obs:?}");

    // The estate's password_env, through the binary.
    let estate = root.join("estate.toml");
    std::fs::write(
        &estate,
        format!(
            "name = \"live-postgres\"\n\n[[service]]\nid = \"db\"\nname = \"private primary\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{primary_port}/postgres\"\npassword_env = \"OPSDECK_TEST_PG_PASSWORD\"\nsev = 1\n"
        ),
    )
    .expect("estate");
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--once", "--json", "--estate"])
        .arg(&estate)
        .env("OPSDECK_TEST_PG_PASSWORD", PASSWORD)
        .output()
        .expect("run opsdeck");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(doc["services"][0]["status"], "up", "{doc}");
    assert_eq!(doc["services"][0]["metrics"]["role"], "primary");

    // The primary dies: the replica loses its WAL receiver, PgBouncer cannot serve.
    primary.kill();
    let obs = poll(
        WAIT,
        || look(&replica_url),
        |o| o.status == Status::Degraded,
    )
    .await;
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    assert_eq!(
        obs.error.as_deref(),
        Some("it has no WAL receiver: it is not streaming from its primary.")
    );
    assert_eq!(look(&primary_url).await.status, Status::Down);
    let obs = look(&via).await;
    assert_eq!(obs.status, Status::Down, "{obs:?}");
}
