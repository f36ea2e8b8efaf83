//! Scenario files: fault timelines the simulator plays against an estate. Owns the file format,
//! its validation (one-sentence errors naming file, line, key and value) and the scenarios
//! shipped in fixtures/scenarios/. Pure: no IO, no async.
//!
//! A scenario names its events by service id, by kind or by part of a URL; each event sets
//! fields on the simulated resource (dotted JSON paths) at a point on the scenario clock.

mod read;

use std::time::Duration;

use serde_json::Value;

use crate::estate::{Estate, Kind, Service, Target};

pub use read::parse;

/// The scenarios shipped with the binary, by file stem.
const BUILTIN: &[(&str, &str)] = &[
    (
        "healthy",
        include_str!("../../fixtures/scenarios/healthy.toml"),
    ),
    (
        "cloudsql-down",
        include_str!("../../fixtures/scenarios/cloudsql-down.toml"),
    ),
    (
        "cloudrun-failed-revision",
        include_str!("../../fixtures/scenarios/cloudrun-failed-revision.toml"),
    ),
    (
        "kms-key-disabled",
        include_str!("../../fixtures/scenarios/kms-key-disabled.toml"),
    ),
    (
        "memorystore-failing-over",
        include_str!("../../fixtures/scenarios/memorystore-failing-over.toml"),
    ),
    (
        "edge-slow",
        include_str!("../../fixtures/scenarios/edge-slow.toml"),
    ),
    (
        "vpc-connector-down",
        include_str!("../../fixtures/scenarios/vpc-connector-down.toml"),
    ),
    (
        "cloudsql-zone-failover-needed",
        include_str!("../../fixtures/scenarios/cloudsql-zone-failover-needed.toml"),
    ),
    (
        "region-outage",
        include_str!("../../fixtures/scenarios/region-outage.toml"),
    ),
    (
        "rate-limited",
        include_str!("../../fixtures/scenarios/rate-limited.toml"),
    ),
    (
        "google-credentials-expired",
        include_str!("../../fixtures/scenarios/google-credentials-expired.toml"),
    ),
    (
        "lumieos-za-region-down",
        include_str!("../../fixtures/scenarios/lumieos-za-region-down.toml"),
    ),
    (
        "tappass-sql-lost",
        include_str!("../../fixtures/scenarios/tappass-sql-lost.toml"),
    ),
    (
        "queue-backlog",
        include_str!("../../fixtures/scenarios/queue-backlog.toml"),
    ),
    (
        "redis-replica-link-down",
        include_str!("../../fixtures/scenarios/redis-replica-link-down.toml"),
    ),
    (
        "redis-master-down",
        include_str!("../../fixtures/scenarios/redis-master-down.toml"),
    ),
    (
        "crashloop",
        include_str!("../../fixtures/scenarios/crashloop.toml"),
    ),
    (
        "hpa-at-max",
        include_str!("../../fixtures/scenarios/hpa-at-max.toml"),
    ),
    (
        "rabbitmq-dlq-growing",
        include_str!("../../fixtures/scenarios/rabbitmq-dlq-growing.toml"),
    ),
    (
        "sartiq-backend-redis-down",
        include_str!("../../fixtures/scenarios/sartiq-backend-redis-down.toml"),
    ),
    (
        "epfl-backend-crashloop",
        include_str!("../../fixtures/scenarios/epfl-backend-crashloop.toml"),
    ),
    (
        "deplate-redis-master-down",
        include_str!("../../fixtures/scenarios/deplate-redis-master-down.toml"),
    ),
    // Drill scenarios for the shipped runbooks (runbooks/*.toml).
    (
        "epfl-backend-stale-credentials",
        include_str!("../../fixtures/scenarios/epfl-backend-stale-credentials.toml"),
    ),
    (
        "cloudrun-bad-revision-serving",
        include_str!("../../fixtures/scenarios/cloudrun-bad-revision-serving.toml"),
    ),
    (
        "cloudrun-burst-expected",
        include_str!("../../fixtures/scenarios/cloudrun-burst-expected.toml"),
    ),
    (
        "memorystore-zone-degraded",
        include_str!("../../fixtures/scenarios/memorystore-zone-degraded.toml"),
    ),
    (
        "tappass-data-deleted",
        include_str!("../../fixtures/scenarios/tappass-data-deleted.toml"),
    ),
    (
        "cloudsql-failover-slow",
        include_str!("../../fixtures/scenarios/cloudsql-failover-slow.toml"),
    ),
    (
        "deplate-redis-master-stuck",
        include_str!("../../fixtures/scenarios/deplate-redis-master-stuck.toml"),
    ),
    (
        "deplate-rabbitmq-scaled-to-zero",
        include_str!("../../fixtures/scenarios/deplate-rabbitmq-scaled-to-zero.toml"),
    ),
    (
        "deplate-poison-messages",
        include_str!("../../fixtures/scenarios/deplate-poison-messages.toml"),
    ),
    (
        "lumieos-tasks-handler-failing",
        include_str!("../../fixtures/scenarios/lumieos-tasks-handler-failing.toml"),
    ),
];

/// A fault timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One sentence: what goes wrong.
    pub summary: String,
    /// The sample estate it was written for, if any.
    pub estate: Option<String>,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    /// In file order; the simulator applies them in `at` order.
    pub events: Vec<Event>,
    /// Where it was read from, for messages.
    pub file: String,
}

/// One change at one moment of the scenario clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When, on the scenario clock (wall time since start × speed).
    pub at: Duration,
    /// Only the service with this id.
    pub service: Option<String>,
    /// Only services of this kind.
    pub kind: Option<Kind>,
    /// Only services whose URL contains this text.
    pub url_contains: Option<String>,
    /// Only services in this estate region (its id).
    pub region: Option<String>,
    /// Dotted JSON paths and the values they get, in file order. Paths under `sim.` are the
    /// simulator's own knobs (injected errors, latency, backlog rates), never served.
    pub set: Vec<(String, Value)>,
    /// Dotted JSON paths removed from the resource.
    pub unset: Vec<String>,
    /// What the event stands for, for people reading the file or a drill report.
    pub note: Option<String>,
    /// The line of the event in its file.
    pub line: usize,
}

impl Event {
    /// Whether this event changes `service`.
    pub fn matches(&self, service: &Service) -> bool {
        self.service.as_ref().is_none_or(|id| *id == service.id)
            && self.kind.is_none_or(|k| k == service.kind)
            && self
                .region
                .as_ref()
                .is_none_or(|r| service.region.as_ref() == Some(r))
            && self.url_contains.as_ref().is_none_or(|part| {
                url_of(&service.target).is_some_and(|u| u.contains(part.as_str()))
            })
    }
}

/// The URL a service is reached at, for kinds that have one.
pub(crate) fn url_of(target: &Target) -> Option<&str> {
    match target {
        Target::GcpRest { url, .. }
        | Target::Redis { url, .. }
        | Target::RedisQueue { url, .. }
        | Target::RabbitmqQueue { url, .. }
        | Target::Postgres { url, .. }
        | Target::Mysql { url, .. }
        | Target::Http { url, .. }
        | Target::Prometheus { url, .. }
        | Target::Promql { url, .. } => Some(url),
        _ => None,
    }
}

impl Scenario {
    /// A scenario with no events: everything stays healthy.
    pub fn healthy() -> Scenario {
        Scenario {
            name: "healthy".to_string(),
            summary: "Nothing fails.".to_string(),
            estate: None,
            speed: 1.0,
            events: Vec::new(),
            file: "<healthy>".to_string(),
        }
    }

    /// Checks the scenario against the estate it is about to run on: every `service` it names
    /// exists, and what it sets on `http` services makes sense.
    pub fn check(&self, estate: &Estate) -> Result<(), String> {
        for (n, event) in self.events.iter().enumerate() {
            let here = format!("{}:{}: event {}", self.file, event.line, n + 1);
            if let Some(id) = event
                .service
                .as_ref()
                .filter(|id| estate.service(id).is_none())
            {
                return Err(format!(
                    "{here}: key 'service' is \"{id}\", which is not a service of the estate '{}'",
                    estate.name
                ));
            }
            if let Some(region) = event.region.as_ref().filter(|r| estate.region(r).is_none()) {
                return Err(format!(
                    "{here}: key 'region' is \"{region}\", which is not a region of the estate '{}'",
                    estate.name
                ));
            }
            for service in estate.services.iter().filter(|s| event.matches(s)) {
                for (key, value) in &event.set {
                    if let Some(problem) =
                        super::cluster::world::set_problem(service.kind, key, value)
                    {
                        return Err(format!(
                            "{here}: {problem} (on the {} service '{}')",
                            service.kind.as_str(),
                            service.id
                        ));
                    }
                }
                if service.kind != Kind::Http {
                    continue;
                }
                for (key, value) in &event.set {
                    if let Some(problem) = http_set_problem(key, value) {
                        return Err(format!(
                            "{here}: {problem} (on the http service '{}')",
                            service.id
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// What is wrong with setting `key` to `value` on an `http` service, if anything.
pub(crate) fn http_set_problem(key: &str, value: &Value) -> Option<String> {
    let shown = value.to_string();
    match key {
        "status" => match value.as_u64() {
            Some(100..=599) => None,
            _ => Some(format!(
                "set key 'status' is {shown}, which is not an HTTP status code (100 to 599)"
            )),
        },
        "hang" | "reset" => (!value.is_boolean())
            .then(|| format!("set key '{key}' is {shown}, which is not true or false")),
        "latency" => match value.as_str().map(humantime::parse_duration) {
            Some(Ok(_)) => None,
            _ => Some(format!(
                "set key 'latency' is {shown}, which is not a duration (like \"2s\" or \"800ms\")"
            )),
        },
        "body" => None,
        other => Some(format!(
            "set key '{other}' means nothing to an http service; use status, hang, reset, latency or body"
        )),
    }
}

/// What is wrong with setting the simulator knob `key` (a `sim.` path) to `value`, if
/// anything. The knobs: `sim.error` (an HTTP code or google.rpc code name the API answers
/// with, 0 for none), `sim.retry_delay` (RetryInfo on that error), `sim.latency`, `sim.hang`,
/// `sim.reset`, `sim.fixed_by` (the action that repairs a failed resource), and the backlog
/// of a queue or subscription: `sim.arrival_rate`, `sim.dispatch_rate` (per simulated
/// second), `sim.backlog` and `sim.oldest_age`.
pub(crate) fn sim_set_problem(key: &str, value: &Value) -> Option<String> {
    let shown = value.to_string();
    let knob = key.strip_prefix("sim.")?;
    let duration = |v: &Value| {
        v.as_str()
            .is_some_and(|s| humantime::parse_duration(s).is_ok())
    };
    let ok = match knob {
        "error" => {
            value
                .as_u64()
                .is_some_and(|c| c == 0 || (400..=599).contains(&c))
                || value
                    .as_str()
                    .is_some_and(|s| super::google::rpc_code_of(s).is_some())
        }
        "retry_delay" | "latency" | "oldest_age" => duration(value),
        "hang" | "reset" => value.is_boolean(),
        "fixed_by" => matches!(
            value.as_str(),
            Some("failover" | "restore" | "rollback" | "none")
        ),
        "arrival_rate" | "dispatch_rate" | "backlog" => value.as_f64().is_some_and(|f| f >= 0.0),
        _ => {
            return Some(format!(
                "set key '{key}' is not a simulator knob; use sim.error, sim.retry_delay, sim.latency, sim.hang, sim.reset, sim.fixed_by, sim.arrival_rate, sim.dispatch_rate, sim.backlog or sim.oldest_age"
            ));
        }
    };
    (!ok).then(|| {
        let want = match knob {
            "error" => "an HTTP error code (400 to 599, 0 for none) or a google.rpc code like \"UNAVAILABLE\"",
            "retry_delay" | "latency" | "oldest_age" => "a duration (like \"30s\")",
            "hang" | "reset" => "true or false",
            "fixed_by" => "\"failover\", \"restore\", \"rollback\" or \"none\"",
            _ => "a number of at least 0",
        };
        format!("set key '{key}' is {shown}, which is not {want}")
    })
}

/// The shipped scenario with this name (its file stem).
pub fn builtin(name: &str) -> Option<Scenario> {
    let (stem, source) = BUILTIN.iter().find(|(n, _)| *n == name)?;
    match parse(source, &format!("{stem}.toml")) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!("built-in scenario does not parse: {e}");
            None
        }
    }
}

/// The names of the shipped scenarios.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo() -> Estate {
        crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo")
            .expect("demo estate loads")
            .0
    }

    #[test]
    fn every_builtin_parses_and_fits_its_estate() {
        for name in builtin_names() {
            let s = builtin(name).unwrap_or_else(|| panic!("{name} parses"));
            assert_eq!(s.name, name, "file stem and name agree");
            assert!(!s.summary.is_empty(), "{name} has a summary");
            let estate = match s.estate.as_deref() {
                None | Some("demo") => demo(),
                Some(sample) => {
                    let (_, source) = crate::estate::SAMPLE_ESTATES
                        .iter()
                        .find(|(n, _)| *n == sample)
                        .unwrap_or_else(|| panic!("{name} names the sample estate {sample}"));
                    crate::estate::from_str(source, sample)
                        .expect("sample loads")
                        .0
                }
            };
            s.check(&estate).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(builtin("no-such-scenario").is_none());
    }

    #[test]
    fn healthy_has_no_events_and_cloudsql_down_fails_every_instance() {
        assert!(builtin("healthy").expect("healthy").events.is_empty());
        let down = builtin("cloudsql-down").expect("cloudsql-down");
        assert_eq!(down.events.len(), 1);
        let e = &down.events[0];
        assert_eq!(e.at, Duration::ZERO);
        assert_eq!(e.kind, Some(Kind::CloudSql));
        assert_eq!(e.set, vec![("state".to_string(), json!("FAILED"))]);
    }

    #[test]
    fn reads_every_field() {
        let src = r#"
name = "x"
summary = "y"
estate = "demo"
speed = 2.5
[[event]]
at = "5m"
service = "edge"
set = { status = 503, latency = "2s", body = { ok = false } }
[[event]]
kind = "cloud_run"
note = "bad deploy"
set = { terminalCondition.state = "CONDITION_FAILED", "conditions[1].state" = "CONDITION_FAILED" }
"#;
        let s = parse(src, "x.toml").expect("parses");
        assert!((s.speed - 2.5).abs() < f64::EPSILON);
        assert_eq!(s.estate.as_deref(), Some("demo"));
        assert_eq!(s.events[0].at, Duration::from_mins(5));
        assert_eq!(s.events[0].line, 7);
        assert_eq!(
            s.events[0].set,
            vec![
                ("body".to_string(), json!({"ok": false})),
                ("latency".to_string(), json!("2s")),
                ("status".to_string(), json!(503)),
            ]
        );
        assert_eq!(s.events[1].at, Duration::ZERO);
        assert!(s.events[1].set.contains(&(
            "terminalCondition.state".to_string(),
            json!("CONDITION_FAILED")
        )));
        assert!(
            s.events[1]
                .set
                .contains(&("conditions[1].state".to_string(), json!("CONDITION_FAILED")))
        );
        assert_eq!(s.events[1].note.as_deref(), Some("bad deploy"));
        s.check(&demo()).expect("fits the demo estate");
    }

    fn error_of(src: &str) -> String {
        parse(src, "bad.toml").expect_err("must not parse")
    }

    #[test]
    fn bad_input_gets_one_sentence_naming_file_line_key_and_value() {
        let cases: &[(&str, &str)] = &[
            (
                "name = \"x\"\nspeed = \"fast\"\n",
                "bad.toml:2:9: key 'speed' is \"fast\", which is not a number",
            ),
            (
                "name = \"x\"\nspeed = -1\n",
                "bad.toml:2:9: key 'speed' is -1, which is not between",
            ),
            (
                "name = \"x\"\nsped = 2\n",
                "bad.toml:2:1: unknown key 'sped'; did you mean 'speed'?",
            ),
            ("summary = \"x\"\n", "bad.toml: key 'name' is missing"),
            (
                "name = \"x\"\n[[event]]\nat = \"soon\"\nkind = \"cloud_sql\"\nset = { state = \"FAILED\" }\n",
                "bad.toml:3:6: event 1: key 'at' is \"soon\", which is not a duration",
            ),
            (
                "name = \"x\"\n[[event]]\nat = 5\nkind = \"cloud_sql\"\nset = { state = \"FAILED\" }\n",
                "bad.toml:3:6: event 1: key 'at' is 5, which is not a duration",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"cloudsql\"\nset = { state = \"FAILED\" }\n",
                "bad.toml:3:8: event 1: key 'kind' is \"cloudsql\", which is not a kind of service; did you mean \"cloud_sql\"?",
            ),
            (
                "name = \"x\"\n[[event]]\nset = { state = \"FAILED\" }\n",
                "event 1 has no 'service', 'kind', 'url_contains' or 'region'",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"cloud_sql\"\n",
                "event 1 has no 'set'",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"cloud_sql\"\nset = \"FAILED\"\n",
                "bad.toml:4:7: event 1: key 'set' is \"FAILED\", which is not a table",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"http\"\nset = { status = 42 }\n",
                "event 1: set key 'status' is 42, which is not an HTTP status code",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"http\"\nset = { state = \"down\" }\n",
                "event 1: set key 'state' means nothing to an http service",
            ),
            (
                "name = \"x\"\n[[event]]\nkind = \"cloud_sql\"\nsett = { state = \"FAILED\" }\n",
                "bad.toml:4:1: event 1: unknown key 'sett'; did you mean 'set'?",
            ),
            ("name = \"x\"\nname = \"y\"\n", "bad.toml:2:"),
        ];
        for (src, want) in cases {
            let got = error_of(src);
            assert!(
                got.contains(want),
                "for {src:?}\n  got:  {got}\n  want: {want}"
            );
            assert!(!got.contains('\n'), "one line: {got}");
        }
    }

    #[test]
    fn unknown_service_is_refused_against_the_estate() {
        let s = parse(
            "name = \"x\"\n[[event]]\nservice = \"nope\"\nset = { state = \"FAILED\" }\n",
            "x.toml",
        )
        .expect("parses");
        let err = s.check(&demo()).expect_err("unknown service");
        assert_eq!(
            err,
            "x.toml:3: event 1: key 'service' is \"nope\", which is not a service of the estate 'tappass-demo'"
        );
        let s = parse(
            "name = \"x\"\n[[event]]\nservice = \"edge\"\nset = { hang = \"yes\" }\n",
            "x.toml",
        )
        .expect("parses");
        let err = s.check(&demo()).expect_err("bad http value");
        assert!(
            err.contains(
                "set key 'hang' is \"yes\", which is not true or false (on the http service 'edge')"
            ),
            "{err}"
        );
    }

    #[test]
    fn selectors_combine() {
        let estate = demo();
        let s = builtin("kms-key-disabled").expect("kms");
        let hit: Vec<&str> = estate
            .services
            .iter()
            .filter(|svc| s.events[0].matches(svc))
            .map(|svc| svc.id.as_str())
            .collect();
        assert_eq!(hit, vec!["kms"]);
    }
}
