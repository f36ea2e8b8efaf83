//! The `opsdeck.health/v1` document (architecture.md; additive changes only).

use serde::Serialize;

use crate::model::{Blindness, Counts, Overall, QueueView, RegionView, ServiceView, Snapshot};

pub const SCHEMA: &str = "opsdeck.health/v1";

#[derive(Serialize)]
struct Health<'a> {
    schema: &'static str,
    estate: &'a str,
    environment: &'a str,
    generated_at: chrono::DateTime<chrono::Utc>,
    status: Overall,
    exit_code: u8,
    worst_sev: Option<u8>,
    /// The whole run hit its deadline: the figures are partial.
    timed_out: bool,
    counts: Counts,
    services: &'a [ServiceView],
    regions: &'a [RegionView],
    queues: &'a [QueueView],
    /// Estate warnings (e.g. an unset password_env).
    warnings: &'a [String],
    /// What opsdeck cannot see (credentials, quota, an unreachable cluster), grouped by
    /// cause with the fix; empty when it sees everything.
    blind: &'a [Blindness],
}

/// The JSON text for a snapshot; a timed-out run is UNKNOWN whatever it found.
pub fn to_json(snapshot: &Snapshot, timed_out: bool, warnings: &[String]) -> String {
    let status = if timed_out {
        Overall::Unknown
    } else {
        snapshot.status
    };
    let doc = Health {
        schema: SCHEMA,
        estate: &snapshot.estate,
        environment: &snapshot.environment,
        generated_at: snapshot.generated_at,
        status,
        exit_code: status.exit_code(),
        worst_sev: snapshot.worst_sev,
        timed_out,
        counts: snapshot.counts,
        services: &snapshot.services,
        regions: &snapshot.regions,
        queues: &snapshot.queues,
        warnings,
        blind: &snapshot.blind,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
