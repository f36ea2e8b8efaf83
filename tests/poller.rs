//! The poller under paused tokio time: a hung probe, a failing probe backing off (and
//! honouring the API's retry delay), a recovery, and never two probes in flight for one
//! service.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use opsdeck::estate::{self, Estate};
use opsdeck::model::{Observation, Outcome, ProbeReport, Status};
use opsdeck::poller::{self, Control, Prober};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn estate() -> Arc<Estate> {
    let mut src = String::from("name = \"t\"\n");
    for id in ["hung", "flaky", "fine", "throttled"] {
        src.push_str(&format!(
            "[[service]]\nid = \"{id}\"\nkind = \"http\"\nurl = \"http://x/\"\nsev = 2\ninterval = \"30s\"\ntimeout = \"5s\"\n"
        ));
    }
    Arc::new(
        estate::from_str_with_env(&src, "t.toml", &|_| None)
            .expect("valid")
            .0,
    )
}

#[derive(Default)]
struct Fake {
    calls: Mutex<HashMap<usize, Vec<Instant>>>,
    in_flight: Mutex<HashMap<usize, usize>>,
    max_in_flight: Mutex<usize>,
}

impl Prober for Fake {
    async fn probe(&self, service: usize) -> Outcome {
        let n = {
            let mut calls = self.calls.lock().expect("lock");
            let v = calls.entry(service).or_default();
            v.push(Instant::now());
            v.len()
        };
        {
            let mut f = self.in_flight.lock().expect("lock");
            let c = f.entry(service).or_default();
            *c += 1;
            let mut m = self.max_in_flight.lock().expect("lock");
            *m = (*m).max(*c);
        }
        // Counts down even when the poller drops a hung probe.
        let _guard = InFlight(self, service);
        match service {
            0 => std::future::pending().await,
            1 if n <= 3 => Outcome::Failed {
                error: "503 UNAVAILABLE".into(),
                retry_after: None,
            },
            3 if n == 1 => Outcome::Failed {
                error: "429 RESOURCE_EXHAUSTED".into(),
                retry_after: Some(Duration::from_secs(120)),
            },
            _ => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Outcome::Observed(Observation::new(Status::Up, "fine"))
            }
        }
    }
}

struct InFlight<'a>(&'a Fake, usize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        *self
            .0
            .in_flight
            .lock()
            .expect("lock")
            .entry(self.1)
            .or_default() -= 1;
    }
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn hung_failing_and_recovering_probes() {
    let estate = estate();
    let fake = Arc::new(Fake::default());
    let (tx, mut rx) = mpsc::channel(256);
    let (_ctl_tx, ctl_rx) = mpsc::channel(4);
    let task = tokio::spawn(poller::run(estate, Arc::clone(&fake), tx, ctl_rx, 8));

    let start = Instant::now();
    let mut reports: Vec<(Instant, ProbeReport)> = Vec::new();
    while Instant::now() - start < Duration::from_secs(600) {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(r)) => reports.push((Instant::now(), r)),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    task.abort();

    let of = |i: usize| reports.iter().filter(move |(_, r)| r.service == i);

    // The hung probe is cut off after its 5 s timeout (+1 s grace) and reported as failing.
    let hung: Vec<_> = of(0).collect();
    assert!(!hung.is_empty());
    assert!(hung.iter().all(|(_, r)| matches!(&r.outcome, Outcome::Failed { error, .. } if error.contains("did not finish within 5s"))));
    assert!(hung[0].0 - start <= Duration::from_secs(7));

    // The healthy service is not held up by the hung one: about every 30 s (±10 % jitter).
    let fine: Vec<Instant> = of(2).map(|(t, _)| *t).collect();
    assert!(
        fine[0] - start < Duration::from_secs(1),
        "first probe at once"
    );
    assert!(fine.len() >= 17, "{} probes in 10 minutes", fine.len());
    for g in gaps(&fine) {
        assert!(
            g >= Duration::from_secs(30) && g <= Duration::from_secs(34),
            "{g:?}"
        );
    }

    // The failing service backs off exponentially, then recovers and returns to its interval.
    let calls = fake
        .calls
        .lock()
        .expect("lock")
        .get(&1)
        .cloned()
        .expect("calls");
    let g = gaps(&calls);
    assert!(
        g[0] >= Duration::from_secs(30) && g[0] < Duration::from_secs(34),
        "{:?}",
        g[0]
    );
    assert!(
        g[1] >= Duration::from_secs(60) && g[1] < Duration::from_secs(64),
        "{:?}",
        g[1]
    );
    assert!(
        g[2] >= Duration::from_secs(120) && g[2] < Duration::from_secs(124),
        "{:?}",
        g[2]
    );
    assert!(
        g[3] >= Duration::from_secs(30) && g[3] < Duration::from_secs(34),
        "back to the interval after recovery: {:?}",
        g[3]
    );
    let flaky: Vec<_> = of(1).collect();
    assert!(
        matches!(flaky[3].1.outcome, Outcome::Observed(_)),
        "recovered on the fourth try"
    );

    // A 429 with RetryInfo waits at least the delay the API asked for.
    let calls = fake
        .calls
        .lock()
        .expect("lock")
        .get(&3)
        .cloned()
        .expect("calls");
    assert!(calls[1] - calls[0] >= Duration::from_secs(120));

    assert_eq!(
        *fake.max_in_flight.lock().expect("lock"),
        1,
        "never two probes in flight for one service"
    );
}

#[tokio::test(start_paused = true)]
async fn refresh_now_probes_again_without_waiting_for_the_interval() {
    let estate = estate();
    let fake = Arc::new(Fake::default());
    let (tx, mut rx) = mpsc::channel(256);
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let task = tokio::spawn(poller::run(estate, Arc::clone(&fake), tx, ctl_rx, 8));
    // First round of the fine service.
    loop {
        let r = rx.recv().await.expect("report");
        if r.service == 2 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    ctl_tx.send(Control::RefreshNow).await.expect("send");
    let asked = Instant::now();
    loop {
        let r = rx.recv().await.expect("report");
        if r.service == 2 {
            break;
        }
    }
    assert!(
        Instant::now() - asked < Duration::from_secs(1),
        "refreshed at once, not after 30 s"
    );
    task.abort();
}
