//! `opsdeck runbook run` as scripts use it, against a simulator this test runs: the dry-run
//! prints every request and changes nothing; a destructive runbook on a SEV 1 target is
//! refused (exit 4) without `--confirm <its id>`; a lease held by another process refuses and
//! names its holder; a run cut by SIGHUP leaves its step in flight in the audit log and is
//! resumed without sending its failover twice; and neither the dry-run nor the audit log ever
//! shows a secret.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use opsdeck::estate::{self, Estate};
use opsdeck::runbook::audit::{AuditLog, Entry, Event, Verdict};
use opsdeck::runbook::lease::{self, LeaseSpot};
use opsdeck::sim::{self, SimHandle, scenario};

/// A simulator, an estate file pointed at it, and private data and config directories.
struct Bench {
    sim: SimHandle,
    live: Estate,
    dir: tempfile::TempDir,
    estate_file: PathBuf,
}

async fn bench(sample: &str, scenario: Option<scenario::Scenario>) -> Bench {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (_, text) = estate::SAMPLE_ESTATES
        .iter()
        .find(|(n, _)| *n == sample)
        .expect("sample estate");
    let estate = estate::from_str(text, sample).expect("loads").0;
    let sim = sim::start(
        &estate,
        scenario,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .expect("sim");
    let live = sim::redirect(&estate, &sim);
    let ready = sim::ready_estate(text, &live, &sim).expect("estate for the simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let estate_file = dir.path().join("estate.toml");
    std::fs::write(&estate_file, ready).expect("write estate");
    Bench {
        sim,
        live,
        dir,
        estate_file,
    }
}

impl Bench {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn opsdeck(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
        cmd.arg("--estate")
            .arg(&self.estate_file)
            .args(args)
            .env("OPSDECK_DATA_DIR", self.data())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("OPSDECK_ESTATE")
            .stdin(Stdio::null());
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.opsdeck(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("opsdeck runs"))
            .await
            .expect("joined")
    }

    fn audit(&self) -> AuditLog {
        AuditLog::in_dir(&self.data())
    }

    async fn failovers(&self) -> usize {
        let url = format!(
            "{}/v1/projects/tappass-prod/operations?instance=tappass-db",
            self.sim.base_url()
        );
        let doc: serde_json::Value = reqwest::get(url)
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        doc["items"].as_array().map_or(0, |ops| {
            ops.iter()
                .filter(|o| o["operationType"] == "FAILOVER")
                .count()
        })
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The failover scenario, slowed so a failover stays in flight for a few seconds.
fn slow_failover() -> scenario::Scenario {
    let mut s = scenario::builtin("cloudsql-zone-failover-needed").expect("scenario");
    s.speed = 10.0;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dry_run_prints_each_request_and_changes_nothing() {
    let b = bench("demo", None).await;
    let out = b
        .run(&[
            "runbook",
            "run",
            "cloud-sql-failover",
            "--target",
            "sql",
            "--dry-run",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let post = format!(
        "    POST {}/v1/projects/tappass-prod/instances/tappass-db/failover\n    {{\"failoverContext\":{{\"kind\":\"sql#failoverContext\",\"settingsVersion\":\"42\"}}}}\n",
        b.sim.base_url()
    );
    assert!(stdout.contains(&post), "{}", text(&out));
    assert!(
        stdout.contains("Confirm  type the target's id: --confirm sql"),
        "{stdout}"
    );
    let json = b
        .run(&[
            "runbook",
            "run",
            "cloud-sql-failover",
            "--target",
            "sql",
            "--dry-run",
            "--json",
        ])
        .await;
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON plan");
    assert_eq!(plan["schema"], "opsdeck.plan/v1");
    assert_eq!(plan["steps"][2]["requests"][0]["method"], "POST");
    assert_eq!(b.failovers().await, 0, "a dry-run sends nothing");
    assert_eq!(
        b.audit().verify(),
        Verdict::Empty,
        "a dry-run records nothing"
    );
    b.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sev1_target_needs_its_id_typed_and_yes_is_not_enough() {
    let b = bench("demo", None).await;
    let base = ["runbook", "run", "cloud-sql-failover", "--target", "sql"];
    for (extra, says) in [
        (
            vec!["--yes"],
            "--yes is not enough; confirm with --confirm sql",
        ),
        (
            vec!["--confirm", "sql-us"],
            "names 'sql-us', but the target is 'sql'",
        ),
        (vec![], "confirm with --confirm sql"),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let out = b.run(&args).await;
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            text(&out)
        );
    }
    assert_eq!(b.failovers().await, 0, "a refusal happens before any step");
    let entries = b.audit().read().expect("audit");
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.event == Event::Refused));
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--confirm", "sql", "--json"])
        .collect();
    let out = b.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(result["outcome"], "done");
    assert_eq!(b.failovers().await, 1);
    assert!(matches!(b.audit().verify(), Verdict::Intact { .. }));
    b.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_held_by_another_process_refuses_and_names_its_holder() {
    let b = bench("demo", None).await;
    let spot = LeaseSpot::of(&b.live, "sql", &b.data());
    let holder = lease::holder_now(
        "alice@bastion-1",
        "bastion-1",
        "r-alice",
        "cloud-sql-failover",
        Duration::from_secs(300),
    );
    spot.acquire(&holder, None)
        .await
        .expect("this process takes the lease");
    let args = [
        "runbook",
        "run",
        "cloud-sql-failover",
        "--target",
        "sql",
        "--confirm",
        "sql",
    ];
    let out = b.run(&args).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the lease on 'sql' is held by alice@bastion-1 (runbook cloud-sql-failover, run r-alice"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(b.failovers().await, 0);
    spot.release(&holder).await.expect("release");
    let out = b.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        spot.holder().await.expect("read").is_none(),
        "the run gave the lease back"
    );
    b.sim.shutdown().await;
}

/// Waits until the audit log holds an entry of `event`; fails after a generous bound.
async fn wait_for(audit: &AuditLog, event: Event) -> Entry {
    let start = Instant::now();
    loop {
        if let Some(e) = audit
            .read()
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.event == event)
        {
            return e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {event:?} entry appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_cut_by_sighup_is_resumed_without_a_second_failover() {
    let b = bench("demo", Some(slow_failover())).await;
    let args = [
        "runbook",
        "run",
        "cloud-sql-failover",
        "--target",
        "sql",
        "--confirm",
        "sql",
    ];
    let child = b
        .opsdeck(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let sent = wait_for(&b.audit(), Event::RequestSent).await;
    assert_eq!(sent.step, Some(3));
    let op = sent.operation.expect("the failover's operation");
    let killed = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("joined");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("interrupted during step 3"),
        "{}",
        text(&out)
    );
    let entries = b.audit().read().expect("audit");
    let cut = entries.last().expect("entries");
    assert_eq!(cut.event, Event::RunInterrupted);
    assert_eq!(cut.step, Some(3));
    assert!(cut.detail.as_deref().is_some_and(|d| d.contains("SIGHUP")));
    assert!(
        !entries
            .iter()
            .any(|e| e.event == Event::StepFinished && e.step == Some(3)),
        "step 3 is in flight"
    );
    let spot = LeaseSpot::of(&b.live, "sql", &b.data());
    assert!(
        spot.holder().await.expect("read").is_some(),
        "the lease is kept for the resume"
    );

    let again = b.run(&args).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("did not finish: stopped by SIGHUP"),
        "{}",
        text(&again)
    );
    assert!(
        stderr.contains(&format!(
            "following operation {} instead of sending it again",
            op.short()
        )),
        "{}",
        text(&again)
    );
    assert_eq!(b.failovers().await, 1, "the failover was sent once");
    assert!(matches!(b.audit().verify(), Verdict::Intact { .. }));
    b.sim.shutdown().await;
}

/// Writes what a run that died between recording a failover and hearing its answer leaves.
fn crashed_while_sending(b: &Bench) {
    let audit = b.audit();
    let entry = |event: Event, step: Option<usize>| {
        let mut e = Entry::new("r-crashed", event);
        e.runbook = Some("cloud-sql-failover".into());
        e.estate = Some(b.live.name.clone());
        e.target = Some("sql".into());
        e.mode = Some("run".into());
        e.step = step;
        e.params = (event == Event::RunStarted).then(|| serde_json::json!({}));
        e.result = (event == Event::StepFinished).then(|| "ok".to_string());
        e
    };
    for e in [
        entry(Event::RunStarted, None),
        entry(Event::StepStarted, Some(1)),
        entry(Event::StepFinished, Some(1)),
        entry(Event::StepStarted, Some(2)),
        entry(Event::StepFinished, Some(2)),
        entry(Event::StepStarted, Some(3)),
        entry(Event::RequestSending, Some(3)),
    ] {
        audit.append(e).expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_whose_answer_was_lost_is_found_not_sent_again() {
    let b = bench("demo", Some(slow_failover())).await;
    crashed_while_sending(&b);
    // The request did reach Google before the run died.
    let instance = format!(
        "{}/v1/projects/tappass-prod/instances/tappass-db",
        b.sim.base_url()
    );
    let doc: serde_json::Value = reqwest::get(&instance)
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let version = doc["settings"]["settingsVersion"].clone();
    let posted = reqwest::Client::new()
        .post(format!("{instance}/failover"))
        .json(&serde_json::json!({"failoverContext": {"kind": "sql#failoverContext", "settingsVersion": version}}))
        .send()
        .await
        .expect("post");
    assert!(posted.status().is_success());
    assert_eq!(b.failovers().await, 1);
    let out = b
        .run(&[
            "runbook",
            "run",
            "cloud-sql-failover",
            "--target",
            "sql",
            "--confirm",
            "sql",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the interrupted run's cloud_sql.failover did arrive"),
        "{}",
        text(&out)
    );
    assert_eq!(b.failovers().await, 1, "not sent a second time");
    b.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failover_that_never_arrived_is_sent_once() {
    let b = bench("demo", Some(slow_failover())).await;
    crashed_while_sending(&b);
    let out = b
        .run(&[
            "runbook",
            "run",
            "cloud-sql-failover",
            "--target",
            "sql",
            "--confirm",
            "sql",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("never took effect; sending it now"),
        "{}",
        text(&out)
    );
    assert_eq!(b.failovers().await, 1);
    b.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_never_reach_the_dry_run_or_the_audit_log() {
    const PASSWORD: &str = "Rabbit-pa55-9f3k";
    const TOKEN: &str = "pager-tok-77x2q";
    let b = bench("deplate", None).await;
    let config = b.dir.path().join("config/opsdeck/runbooks");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(
        config.join("page-the-owner.toml"),
        format!(
            r#"title = "Page the owner"
applies_to = {{ kind = "http" }}
[[step]]
action = "http.request"
with = {{ url = "{}/http/minio/page", headers = {{ Authorization = "Token token=${{env:PAGER_TOKEN}}" }}, body = {{ summary = "minio down", key = "${{env:PAGER_TOKEN}}" }} }}
"#,
            b.sim.base_url()
        ),
    )
    .expect("runbook");
    let with_secrets = |args: &[&str]| {
        let mut cmd = b.opsdeck(args);
        cmd.env("DEPLATE_RABBITMQ_PASSWORD", PASSWORD)
            .env("PAGER_TOKEN", TOKEN);
        cmd
    };
    let mut outputs = Vec::new();
    for args in [
        vec![
            "runbook",
            "run",
            "rabbitmq-dead-letter-triage",
            "--target",
            "notifications-dead-letter",
            "--dry-run",
        ],
        vec![
            "runbook",
            "run",
            "rabbitmq-dead-letter-triage",
            "--target",
            "notifications-dead-letter",
            "--yes",
            "--json",
        ],
        vec![
            "runbook",
            "run",
            "page-the-owner",
            "--target",
            "minio",
            "--dry-run",
        ],
        vec![
            "runbook",
            "run",
            "page-the-owner",
            "--target",
            "minio",
            "--yes",
        ],
        vec!["audit", "show"],
    ] {
        let mut cmd = with_secrets(&args);
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
            .await
            .expect("joined");
        outputs.push((args.join(" "), out));
    }
    let (_, dry) = &outputs[0];
    assert_eq!(dry.status.code(), Some(0), "{}", text(dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("/api/queues/%2F/notifications.dead-letter/contents\n    Authorization: ***"),
        "{}",
        text(dry)
    );
    let (_, page) = &outputs[3];
    assert_eq!(page.status.code(), Some(0), "{}", text(page));
    for (args, out) in &outputs {
        let all = text(out);
        assert!(
            !all.contains(PASSWORD) && !all.contains(TOKEN),
            "`{args}` shows a secret:\n{all}"
        );
    }
    let log = std::fs::read_to_string(b.audit().path()).expect("audit log");
    assert!(
        log.contains("page-the-owner") && log.contains("rabbitmq.purge"),
        "both runs are audited"
    );
    assert!(
        !log.contains(PASSWORD) && !log.contains(TOKEN),
        "the audit log holds a secret"
    );
    assert!(
        log.contains(r#"["Authorization","***"]"#),
        "the header is recorded, masked:\n{log}"
    );
    b.sim.shutdown().await;
}
