//! `--once --format prometheus`: exposition text for node_exporter's textfile collector. One
//! gauge per service status, SEV, staleness and probe latency, and per queue depth and age,
//! labelled with estate, service, kind and region.

use std::fmt::Write as _;

use crate::model::{Snapshot, Status};

struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }
}

/// A label value escaped for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The exposition text for a snapshot.
pub fn to_prometheus(snapshot: &Snapshot, timed_out: bool) -> String {
    let estate = snapshot.estate.as_str();
    let mut up = Family::new(
        "opsdeck_service_up",
        "1 when the service's own probe says up.",
    );
    let mut status = Family::new(
        "opsdeck_service_status",
        "The service's own status, one series per possible status (1 for the current one).",
    );
    let mut sev = Family::new(
        "opsdeck_service_sev",
        "Effective SEV (1 worst … 4); absent when up and impacted by nothing.",
    );
    let mut declared = Family::new(
        "opsdeck_service_declared_sev",
        "SEV of the service's full outage.",
    );
    let mut impacted = Family::new(
        "opsdeck_service_impacted",
        "1 when a dependency's failure impacts the service.",
    );
    let mut stale = Family::new(
        "opsdeck_service_stale",
        "1 when the service's data is stale.",
    );
    let mut observed = Family::new(
        "opsdeck_service_observed_timestamp_seconds",
        "When the service was last observed (Unix time).",
    );
    let mut latency = Family::new(
        "opsdeck_probe_latency_seconds",
        "Latency the probe measured.",
    );
    let mut depth = Family::new("opsdeck_queue_depth", "Messages waiting in the queue.");
    let mut age = Family::new(
        "opsdeck_queue_oldest_age_seconds",
        "Age of the oldest waiting message.",
    );
    let mut consumers = Family::new(
        "opsdeck_queue_consumers",
        "Consumers attached to the queue.",
    );

    for s in &snapshot.services {
        let region = s.region.as_deref().unwrap_or("");
        let base = labels(&[
            ("estate", estate),
            ("service", &s.id),
            ("kind", s.kind.as_str()),
            ("region", region),
        ]);
        up.samples
            .push((base.clone(), f64::from(u8::from(s.status == Status::Up))));
        for st in [Status::Up, Status::Degraded, Status::Down, Status::Unknown] {
            let l = labels(&[
                ("estate", estate),
                ("service", &s.id),
                ("kind", s.kind.as_str()),
                ("region", region),
                ("status", st.as_str()),
            ]);
            status
                .samples
                .push((l, f64::from(u8::from(s.status == st))));
        }
        if let Some(v) = s.sev {
            sev.samples.push((base.clone(), f64::from(v)));
        }
        declared
            .samples
            .push((base.clone(), f64::from(s.declared_sev)));
        impacted
            .samples
            .push((base.clone(), f64::from(u8::from(s.is_impacted()))));
        stale
            .samples
            .push((base.clone(), f64::from(u8::from(s.stale))));
        if let Some(at) = s.observed_at {
            observed
                .samples
                .push((base.clone(), at.timestamp_millis() as f64 / 1000.0));
        }
        if let Some(ms) = s
            .metrics
            .get("latency_ms")
            .and_then(serde_json::Value::as_f64)
        {
            latency.samples.push((base.clone(), ms / 1000.0));
        }
    }
    for q in &snapshot.queues {
        let Some(s) = snapshot.service(&q.service) else {
            continue;
        };
        let l = labels(&[
            ("estate", estate),
            ("service", &q.service),
            ("kind", s.kind.as_str()),
            ("region", s.region.as_deref().unwrap_or("")),
        ]);
        if let Some(d) = q.depth {
            depth.samples.push((l.clone(), d as f64));
        }
        if let Some(a) = q.oldest_age_s {
            age.samples.push((l.clone(), a));
        }
        if let Some(c) = q.consumers {
            consumers.samples.push((l, c as f64));
        }
    }

    let mut out = String::new();
    let est = labels(&[("estate", estate)]);
    let overall = if timed_out { 3 } else { snapshot.exit_code };
    let _ = writeln!(
        out,
        "# HELP opsdeck_estate_status The Nagios code of the whole estate (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).\n# TYPE opsdeck_estate_status gauge\nopsdeck_estate_status{est} {overall}"
    );
    if let Some(w) = snapshot.worst_sev {
        let _ = writeln!(
            out,
            "# HELP opsdeck_estate_worst_sev The worst effective SEV in the estate.\n# TYPE opsdeck_estate_worst_sev gauge\nopsdeck_estate_worst_sev{est} {w}"
        );
    }
    for f in [
        up, status, sev, declared, impacted, stale, observed, latency, depth, age, consumers,
    ] {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", f.name, f.help, f.name);
        for (l, v) in f.samples {
            let _ = writeln!(out, "{}{l} {v}", f.name);
        }
    }
    out
}
