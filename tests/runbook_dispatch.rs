//! The dispatcher is the last door before a write: read-only mode refuses there even when the
//! caller holds a grant, and a destructive action on a SEV 1–2 target needs the target's id
//! typed. Leases in a shared system (a Kubernetes Lease, with its resource version) let one
//! holder in and name it to the next. All against the simulator.

use std::net::{Ipv4Addr, SocketAddr};

use opsdeck::action::{self, Clients, Cx, Pace, Progress};
use opsdeck::estate::{self, Estate, LeaseBackend, LeaseConfig};
use opsdeck::runbook::confirm::Confirmation;
use opsdeck::runbook::dispatch::{DispatchError, Dispatcher, Grant, HeldLease, Refusal};
use opsdeck::runbook::lease::{self, LeaseError, LeaseSpot};
use opsdeck::sim::{self, SimHandle};

async fn demo_on_sim() -> (SimHandle, Estate) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let estate = estate::from_str(estate::DEMO_ESTATE, "demo")
        .expect("demo")
        .0;
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let sim = sim::start(&estate, None, listen).await.expect("sim");
    let live = sim::redirect(&estate, &sim);
    (sim, live)
}

fn quiet(_: Progress) {}

fn cx_for<'a>(estate: &'a Estate, args: &'a action::Args, clients: &'a Clients) -> Cx<'a> {
    Cx {
        estate,
        service: estate.service("sql").expect("sql"),
        args,
        clients,
        pace: Pace::default(),
        progress: &quiet,
    }
}

/// Failover operations the simulator has for the instance.
async fn failovers(sim: &SimHandle) -> usize {
    let url = format!(
        "{}/v1/projects/tappass-prod/operations?instance=tappass-db",
        sim.base_url()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_only_refuses_at_the_dispatcher_even_with_a_grant() {
    let (sim, live) = demo_on_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let runbook = opsdeck::runbook::builtin("cloud-sql-failover").expect("runbook");
    let sql = live.service("sql").expect("sql").clone();
    let me = lease::holder_now(
        "test@host",
        "host",
        "r-test",
        &runbook.id,
        std::time::Duration::from_secs(60),
    );
    let held = HeldLease::taken(LeaseSpot::of(&live, "sql", dir.path()), me, None)
        .await
        .expect("lease");
    let grant =
        Grant::new(&runbook, &sql, &Confirmation::Typed("sql".into()), &held).expect("grant");
    let failover = action::find("cloud_sql.failover").expect("action");
    let clients = Clients::new(&live);
    let args = action::Args::new();
    let mut read_only = live.clone();
    read_only.read_only = true;
    let writable = &live;
    let read_only = &read_only;
    let cx = |estate| cx_for(estate, &args, &clients);
    let plan = failover
        .prepare(&cx(read_only))
        .await
        .expect("reading is allowed");

    let refused = Dispatcher::new(read_only, false)
        .submit(&grant, failover, &cx(read_only), &plan)
        .await;
    assert!(
        matches!(&refused, Err(DispatchError::Refused(Refusal::ReadOnly(why))) if why.contains("read-only")),
        "{refused:?}"
    );
    let flagged = Dispatcher::new(writable, true)
        .submit(&grant, failover, &cx(writable), &plan)
        .await;
    assert!(
        matches!(&flagged, Err(DispatchError::Refused(Refusal::ReadOnly(why))) if why.contains("--read-only")),
        "{flagged:?}"
    );
    assert_eq!(failovers(&sim).await, 0, "nothing was sent");

    let sent = Dispatcher::new(writable, false)
        .submit(&grant, failover, &cx(writable), &plan)
        .await
        .expect("a writable estate sends");
    assert!(sent.operation.is_some());
    assert_eq!(failovers(&sim).await, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_destructive_action_on_a_sev1_target_needs_the_typed_id() {
    let (sim, live) = demo_on_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let runbook = opsdeck::runbook::builtin("cloud-sql-failover").expect("runbook");
    let sql = live.service("sql").expect("sql");
    let me = lease::holder_now(
        "test@host",
        "host",
        "r-typed",
        &runbook.id,
        std::time::Duration::from_secs(60),
    );
    let held = HeldLease::taken(LeaseSpot::of(&live, "sql", dir.path()), me, None)
        .await
        .expect("lease");
    for given in [
        Confirmation::None,
        Confirmation::Yes,
        Confirmation::Typed("sql-us".into()),
    ] {
        let refused = Grant::new(&runbook, sql, &given, &held).expect_err("not enough");
        assert!(
            matches!(refused, Refusal::Confirmation(_)),
            "{given:?}: {refused:?}"
        );
    }
    // A runbook that destroys nothing may be confirmed with --yes; its grant then carries no
    // typed id, and the dispatcher refuses a destructive action under it.
    let scale = opsdeck::runbook::builtin("cloud-run-scale-up").expect("runbook");
    let api = live.service("api").expect("api");
    let me = lease::holder_now(
        "test@host",
        "host",
        "r-yes",
        &scale.id,
        std::time::Duration::from_secs(60),
    );
    let held = HeldLease::taken(LeaseSpot::of(&live, "api", dir.path()), me, None)
        .await
        .expect("lease");
    let grant =
        Grant::new(&scale, api, &Confirmation::Yes, &held).expect("--yes is enough for scale-up");
    let rollback = action::find("cloud_run.rollback").expect("action");
    let clients = Clients::new(&live);
    let args = action::Args::new();
    let cx = Cx {
        estate: &live,
        service: api,
        args: &args,
        clients: &clients,
        pace: Pace::default(),
        progress: &quiet,
    };
    let plan = action::Plan::default();
    let refused = Dispatcher::new(&live, false)
        .submit(&grant, rollback, &cx, &plan)
        .await;
    assert!(
        matches!(
            &refused,
            Err(DispatchError::Refused(Refusal::Confirmation(_)))
        ),
        "{refused:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kubernetes_lease_lets_one_holder_in_and_names_it() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (_, text) = estate::SAMPLE_ESTATES
        .iter()
        .find(|(n, _)| *n == "epfl-k8s")
        .expect("sample");
    let estate = estate::from_str(text, "epfl").expect("epfl").0;
    let sim = sim::start(&estate, None, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("sim");
    let mut live = sim::redirect(&estate, &sim);
    let context = live.services.iter().find_map(|s| match &s.target {
        estate::Target::K8sWorkload { context, .. } => context.clone(),
        _ => None,
    });
    live.lease = LeaseConfig {
        backend: LeaseBackend::Kubernetes {
            context,
            namespace: "default".into(),
        },
        ..LeaseConfig::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spot = LeaseSpot::of(&live, "backend", dir.path());
    let ttl = std::time::Duration::from_secs(60);
    let alice = lease::holder_now(
        "alice@bastion-1",
        "bastion-1",
        "r-alice",
        "k8s-rollout-restart",
        ttl,
    );
    let bob = lease::holder_now(
        "bob@bastion-2",
        "bastion-2",
        "r-bob",
        "k8s-rollout-restart",
        ttl,
    );
    let (a, b) = tokio::join!(spot.acquire(&alice, None), spot.acquire(&bob, None));
    let (winner, loser) = match (&a, &b) {
        (Ok(()), Err(e)) => (&alice, e),
        (Err(e), Ok(())) => (&bob, e),
        other => panic!("exactly one must win: {other:?}"),
    };
    match loser {
        LeaseError::Held { holder, .. } => assert_eq!(holder.who, winner.who),
        other => panic!("{other:?}"),
    }
    assert!(loser.to_string().contains(&winner.who), "{loser}");
    spot.renew(winner).await.expect("the holder renews");
    spot.release(winner).await.expect("release");
    let other = if winner.run == alice.run {
        &bob
    } else {
        &alice
    };
    spot.acquire(other, None).await.expect("free after release");
    sim.shutdown().await;
}
