//! The `mysql` probe against real MariaDB: the shared server on 127.0.0.1:3306, and a private
//! primary with a private replica the test sets up (mariadb-install-db, binary log, `CHANGE
//! MASTER TO`), then breaks: a conflicting statement stops the replica's SQL thread, and
//! killing the primary leaves its IO thread reconnecting.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Server, free_port, give, have, live, observed, poll, port_open, run, user_ids};
use mysql_async::prelude::Queryable;
use opsdeck::model::{Observation, Status};
use opsdeck::probe::mysql;

const WAIT: Duration = Duration::from_secs(30);

async fn look(url: &str) -> Observation {
    observed(mysql::probe(url, None).await)
}

#[tokio::test]
async fn the_shared_server_is_an_up_primary() {
    if !live("MariaDB at 127.0.0.1:3306", port_open(3306)) {
        return;
    }
    let obs = look("mysql://root@127.0.0.1:3306/test").await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(obs.summary.starts_with("primary"), "{}", obs.summary);
    assert!(
        obs.summary.contains(" connections · MariaDB "),
        "{}",
        obs.summary
    );
    assert_eq!(obs.metrics["role"], "primary");
    assert!(obs.metrics["threads_connected"].as_u64() >= Some(1));

    let obs = look("mysql://opsdeck_no_such_user@127.0.0.1:3306/test").await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    assert!(obs.error.expect("a reason").contains("Access denied"));

    let port = free_port();
    let obs = look(&format!("mysql://root@127.0.0.1:{port}/test")).await;
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            format!("MySQL at mysql://root@127.0.0.1:{port}/test refused the connection").as_str()
        )
    );
}

fn start_mariadb(dir: &Path, name: &str, server_id: u32) -> Server {
    let (uid, gid) = user_ids("mysql");
    let port = free_port();
    let data = dir.join(name);
    let mut cmd = Command::new("mariadbd");
    cmd.uid(uid)
        .gid(gid)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!(
            "--socket={}",
            dir.join(format!("{name}.sock")).display()
        ))
        .arg(format!(
            "--pid-file={}",
            dir.join(format!("{name}.pid")).display()
        ))
        .arg(format!(
            "--log-bin={}",
            dir.join(format!("{name}-bin")).display()
        ))
        .arg(format!("--port={port}"))
        .arg(format!("--server-id={server_id}"))
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        .args([
            "--innodb-buffer-pool-size=16M",
            "--innodb-flush-log-at-trx-commit=0",
        ]);
    Server::start(name, &mut cmd, port)
}

async fn sql(port: u16, statements: &[&str]) {
    let mut conn = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("root")),
    )
    .await
    .expect("connect as root");
    for s in statements {
        conn.query_drop(*s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let _ = conn.disconnect().await;
}

/// Runs one statement; whether it succeeded.
async fn try_sql(port: u16, statement: &str) -> bool {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"));
    let Ok(mut conn) = mysql_async::Conn::new(opts).await else {
        return false;
    };
    let ok = conn.query_drop(statement).await.is_ok();
    let _ = conn.disconnect().await;
    ok
}

fn io_error(o: &Observation) -> bool {
    o.status == Status::Degraded
        && o.error
            .as_deref()
            .is_some_and(|e| e.contains("IO thread is"))
}

#[tokio::test]
async fn a_private_replica_breaks_and_loses_its_primary() {
    if !live(
        "the mariadbd program",
        have("mariadbd") || have("/usr/sbin/mariadbd"),
    ) || !live("the mariadb-install-db program", have("mariadb-install-db"))
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    give(root, "mysql");
    let (uid, gid) = user_ids("mysql");
    run(Command::new("mariadb-install-db")
        .uid(uid)
        .gid(gid)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", root.join("primary").display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]));
    // A replica starts from a copy of the freshly installed, never started data directory.
    run(Command::new("cp")
        .arg("-a")
        .arg(root.join("primary"))
        .arg(root.join("replica")));
    let mut primary = start_mariadb(root, "primary", 1);
    let replica = start_mariadb(root, "replica", 2);
    sql(
        replica.port,
        &[
            &format!(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=no",
                primary.port
            ),
            "START SLAVE",
        ],
    )
    .await;
    let replica_url = format!("mysql://root@127.0.0.1:{}/mysql", replica.port);
    let source = format!("127.0.0.1:{}", primary.port);

    // Just started, the replica may report a second of lag before it catches up.
    let obs = poll(
        WAIT,
        || look(&replica_url),
        |o| o.status == Status::Up && o.summary.contains(" · lag 0 s · "),
    )
    .await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(
        obs.summary.starts_with(&format!(
            "replica of {source} · IO Yes · SQL Yes · lag 0 s · "
        )),
        "{}",
        obs.summary
    );
    assert_eq!(obs.metrics["role"], "replica");

    // A row written on the replica, then the same key on the primary: replaying the primary's
    // insert fails on the replica with a duplicate key.
    sql(
        primary.port,
        &[
            "CREATE DATABASE opsdeck_conflict",
            "CREATE TABLE opsdeck_conflict.t (id INT PRIMARY KEY)",
        ],
    )
    .await;
    let replicated = poll(
        WAIT,
        || try_sql(replica.port, "INSERT INTO opsdeck_conflict.t VALUES (1)"),
        |done| *done,
    )
    .await;
    assert!(replicated, "the table never reached the replica");
    sql(primary.port, &["INSERT INTO opsdeck_conflict.t VALUES (1)"]).await;
    let obs = poll(WAIT, || look(&replica_url), |o| o.status == Status::Down).await;
    assert_eq!(obs.status, Status::Down, "{obs:?}");
    let error = obs.error.expect("a reason");
    assert!(
        error.starts_with("the replica's SQL thread stopped with an error: "),
        "{error}"
    );
    assert!(error.contains("Duplicate entry"), "{error}");

    sql(
        replica.port,
        &[
            "SET GLOBAL sql_slave_skip_counter = 1",
            "START SLAVE SQL_THREAD",
        ],
    )
    .await;
    let obs = poll(WAIT, || look(&replica_url), |o| o.status == Status::Up).await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");

    primary.kill();
    let obs = poll(WAIT, || look(&replica_url), io_error).await;
    assert!(io_error(&obs), "{obs:?}");
    let error = obs.error.expect("a reason");
    assert!(
        error.contains(&format!(
            "IO thread is Connecting, not receiving from {source}"
        )),
        "{error}"
    );
}
