//! A drill's verdict: time to detect and to recover against the RTO, and for restores the
//! data-loss window against the RPO, read from the samples and the drill's audit log.

use super::{
    AuditEvent, AuditLog, DateTime, Estate, Report, Runs, Setup, Utc, Value, fault_at, monitor,
    report, secs,
};

/// Measures, compares with the targets, and says why it failed.
pub(super) fn assess(
    setup: &Setup,
    live: &Estate,
    started_at: DateTime<Utc>,
    samples: &[monitor::Sample],
    runs: Runs,
) -> Report {
    let fault = fault_at(&setup.scenario);
    let reading = monitor::read(samples);
    let detected = reading
        .detected_at
        .filter(|d| *d <= runs.first_start)
        .map(|d| secs(d.saturating_sub(fault)));
    let recovered = reading
        .healthy_from
        .map(|h| secs(h.max(runs.last_finish).saturating_sub(fault)));
    let fault_wall = started_at
        + chrono::Duration::milliseconds((secs(fault) / setup.scenario.speed * 1000.0) as i64);
    let audit = AuditLog::in_dir(&setup.out_dir);
    let (data_loss, basis) = data_loss(&audit, fault_wall);
    let rto = live.rto.map(|d| d.as_secs_f64());
    let rpo = live.rpo.map(|d| d.as_secs_f64());
    let rto_met = rto.map(|t| recovered.is_some_and(|r| r <= t));
    let rpo_met = match (rpo, data_loss) {
        (Some(t), Some(l)) => Some(l <= t),
        _ => None,
    };
    let mut reasons = Vec::new();
    for r in runs.each.iter().filter(|r| r.exit_code != 0) {
        reasons.push(format!(
            "the runbook on '{}' ended {}: {}",
            r.target, r.outcome, r.detail
        ));
    }
    match recovered {
        None => reasons.push(format!(
            "not recovered: still unhealthy when the drill gave up: {}",
            reading
                .still_unhealthy
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Some(r) if rto_met == Some(false) => reasons.push(format!(
            "RTO missed: recovery took {}, the estate's RTO is {}",
            report::dur(Some(r)),
            report::dur(rto)
        )),
        Some(_) => {}
    }
    if rpo_met == Some(false) {
        reasons.push(format!(
            "RPO missed: {} of data lost, the estate's RPO is {}",
            report::dur(data_loss),
            report::dur(rpo)
        ));
    }
    Report {
        schema: "opsdeck.drill/v1",
        runbook: setup.runbook.id.clone(),
        title: setup.runbook.title.clone(),
        scenario: setup.scenario.name.clone(),
        scenario_summary: setup.scenario.summary.clone(),
        estate: live.name.clone(),
        speed: setup.scenario.speed,
        started_at,
        fault_at_s: secs(fault),
        affected: reading.affected.iter().cloned().collect(),
        time_to_detect_s: detected,
        time_to_recover_s: recovered,
        still_unhealthy: reading.still_unhealthy.iter().cloned().collect(),
        data_loss_s: data_loss,
        data_loss_basis: basis,
        rto_s: rto,
        rpo_s: rpo,
        rto_met,
        rpo_met,
        runs: runs.each,
        verdict: if reasons.is_empty() { "pass" } else { "fail" },
        reasons,
        audit_log: audit.path().display().to_string(),
    }
}

/// The data a restore or clone gave up: from the moment its data is from to the fault.
pub(super) fn data_loss(
    audit: &AuditLog,
    fault_wall: DateTime<Utc>,
) -> (Option<f64>, Option<String>) {
    let entries = audit.read().unwrap_or_default();
    let facts = entries
        .iter()
        .filter(|e| e.event == AuditEvent::RequestSending)
        .filter_map(|e| e.facts.as_ref());
    for f in facts {
        for (key, what) in [
            ("backup_taken_at", "the restored backup was taken at"),
            ("point_in_time", "the clone is of the data at"),
        ] {
            let Some(at) = f
                .get(key)
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            else {
                continue;
            };
            let loss = (fault_wall - at.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0;
            return (
                Some(loss.max(0.0)),
                Some(format!(
                    "{what} {}, the fault struck at {}",
                    at.format("%Y-%m-%d %H:%M:%S UTC"),
                    fault_wall.format("%Y-%m-%d %H:%M:%S UTC")
                )),
            );
        }
    }
    (None, None)
}
