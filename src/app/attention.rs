//! The attention bell: from one snapshot to the next, which SEV 1–2 problems are new, so the
//! console rings the terminal bell once for them (unless it is off) and names them at the top
//! of the events view. A problem is a service down, degraded or impacted at effective SEV 1–2
//! and not silenced; it is new when the previous snapshot did not have it, once the console
//! has finished its first round of probes (what it found on opening is not news). Pure; the
//! runtime writes the bell to the terminal.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::model::{Snapshot, Status};

/// The latest new SEV 1–2 problems, while any of them lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    pub at: DateTime<Utc>,
    /// Their ids, worst first.
    pub services: Vec<String>,
    /// The worst of their SEVs.
    pub sev: u8,
    /// Whether the bell rang for them (off with --quiet or `:bell off`).
    pub rang: bool,
}

/// What the bell knows between snapshots.
#[derive(Debug, Clone)]
pub(super) struct Bell {
    pub(super) on: bool,
    /// The first round of probes has come back.
    ready: bool,
    alerting: BTreeSet<String>,
    due: bool,
    pub(super) attention: Option<Attention>,
}

impl Default for Bell {
    fn default() -> Self {
        Bell {
            on: true,
            ready: false,
            alerting: BTreeSet::new(),
            due: false,
            attention: None,
        }
    }
}

/// The ids of the services with a SEV 1–2 problem that is not silenced.
pub fn alerting(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot
        .services
        .iter()
        .filter(|s| !s.pending && !s.silenced)
        .filter(|s| matches!(s.status, Status::Down | Status::Degraded) || s.is_impacted())
        .filter(|s| s.sev.is_some_and(|v| v <= 2))
        .map(|s| s.id.clone())
        .collect()
}

impl Bell {
    /// Takes in a snapshot; returns whether the attention line changed.
    pub(super) fn update(&mut self, snapshot: &Snapshot) -> bool {
        let now = alerting(snapshot);
        let before = self.attention.clone();
        if self.ready {
            // Worst first, in the snapshot's order.
            let new: Vec<&crate::model::ServiceView> = snapshot
                .services
                .iter()
                .filter(|s| now.contains(&s.id) && !self.alerting.contains(&s.id))
                .collect();
            if !new.is_empty() {
                self.due |= self.on;
                self.attention = Some(Attention {
                    at: snapshot.generated_at,
                    services: new.iter().map(|s| s.id.clone()).collect(),
                    sev: new.iter().filter_map(|s| s.sev).min().unwrap_or(2),
                    rang: self.on,
                });
            }
        }
        if self
            .attention
            .as_ref()
            .is_some_and(|a| !a.services.iter().any(|s| now.contains(s)))
        {
            self.attention = None;
        }
        self.alerting = now;
        self.ready |= !snapshot.loading();
        before != self.attention
    }

    /// Whether to ring now; once per new problem.
    pub(super) fn take(&mut self) -> bool {
        std::mem::take(&mut self.due)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, TimeDelta, TimeZone, Utc};

    use super::super::App;
    use crate::model::{Model, Observation, Outcome, ProbeReport, Silence, Status};

    const ESTATE: &str = r#"
name = "t"
[[service]]
id = "sql"
kind = "http"
url = "http://x/sql"
sev = 1
[[service]]
id = "api"
kind = "http"
url = "http://x/api"
sev = 1
depends_on = ["sql"]
[[service]]
id = "queue"
kind = "http"
url = "http://x/queue"
sev = 3
"#;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 3, 12, 0)
            .single()
            .expect("time")
            + TimeDelta::seconds(s)
    }

    struct Console {
        model: Model,
        app: App,
        clock: i64,
    }

    impl Console {
        /// A console whose first round of probes found everything up.
        fn started() -> Console {
            let (e, _) =
                crate::estate::from_str_with_env(ESTATE, "t.toml", &|_| None).expect("estate");
            let mut model = Model::new(Arc::new(e));
            let mut app = App::new(model.snapshot(t(0)));
            for i in 0..3 {
                model.apply(report(i, t(1), Status::Up));
            }
            app.set_snapshot(model.snapshot(t(1)));
            Console {
                model,
                app,
                clock: 1,
            }
        }

        fn probe(&mut self, service: usize, status: Status) -> bool {
            self.clock += 1;
            self.model.apply(report(service, t(self.clock), status));
            self.app.set_snapshot(self.model.snapshot(t(self.clock)));
            self.app.take_bell()
        }
    }

    fn report(service: usize, at: DateTime<Utc>, status: Status) -> ProbeReport {
        let obs = match status {
            Status::Down => Observation::down("it broke"),
            other => Observation::new(other, "fine"),
        };
        ProbeReport {
            service,
            at,
            outcome: Outcome::Observed(obs),
        }
    }

    #[test]
    fn a_new_sev1_rings_once_and_heads_the_events_view_until_it_recovers() {
        let mut c = Console::started();
        assert!(!c.app.take_bell(), "the first round is not news");
        assert!(c.probe(0, Status::Down), "sql down: SEV1, new");
        let a = c.app.attention().expect("attention").clone();
        assert_eq!(
            a.services,
            ["sql", "api"],
            "the root cause and what it takes down"
        );
        assert_eq!(a.sev, 1);
        assert!(a.rang);
        assert!(!c.app.take_bell(), "once");
        assert!(!c.probe(0, Status::Down), "still down: not new");
        assert!(!c.probe(2, Status::Down), "a SEV 3 does not ring");
        assert!(!c.probe(0, Status::Up));
        assert!(c.app.attention().is_none(), "recovered: the line goes");
        assert!(c.probe(0, Status::Down), "down again: new again");
    }

    #[test]
    fn what_is_down_when_the_console_opens_does_not_ring() {
        let (e, _) = crate::estate::from_str_with_env(ESTATE, "t.toml", &|_| None).expect("estate");
        let mut model = Model::new(Arc::new(e));
        let mut app = App::new(model.snapshot(t(0)));
        model.apply(report(0, t(1), Status::Down));
        app.set_snapshot(model.snapshot(t(1)));
        model.apply(report(1, t(2), Status::Up));
        model.apply(report(2, t(2), Status::Up));
        app.set_snapshot(model.snapshot(t(2)));
        assert!(!app.take_bell());
        assert!(app.attention().is_none());
    }

    #[test]
    fn never_for_a_silenced_service_and_never_when_quiet() {
        let mut c = Console::started();
        c.model.set_silences(vec![Silence {
            service: "sql".into(),
            who: "alice@bastion".into(),
            reason: "failover".into(),
            start: t(0),
            until: t(3600),
        }]);
        assert!(!c.probe(0, Status::Down), "sql and api silenced");
        assert!(c.app.attention().is_none());
        c.model.set_silences(Vec::new());
        assert!(
            c.probe(0, Status::Down),
            "the silence lifted: it is news now"
        );

        let mut quiet = Console::started();
        quiet.app.set_bell(false);
        assert!(!quiet.probe(0, Status::Down), "--quiet");
        let a = quiet.app.attention().expect("still shown in events");
        assert!(!a.rang);
    }
}
