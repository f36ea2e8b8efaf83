//! Texts whose value depends on the clock (data age, fallback time left, queue ETA), and the
//! comparison that decides whether a new snapshot changes the screen. Both live here so the
//! decision to redraw and the drawing itself read the same text and cannot disagree.

use crate::model::{QueueView, ServiceView, Snapshot};

/// The status word the console shows: the model's word, except that stale data is never
/// shown as up (it reads `stale` instead; a stale down stays down, with its stale badge).
pub fn shown_state(s: &ServiceView) -> &'static str {
    match s.state_word() {
        "up" if s.stale => "stale",
        word => word,
    }
}

/// Seconds since the service's data was observed, as of the snapshot.
pub fn age_s(snapshot: &Snapshot, service: &ServiceView) -> Option<u64> {
    let at = service.observed_at?;
    let secs = (snapshot.generated_at - at).num_seconds();
    Some(u64::try_from(secs).unwrap_or(0))
}

/// The age column: `10s`, `3m`, `2h`, `4d`; `-` when never observed. Under a minute it moves
/// in steps of ten seconds, so an idle screen changes (and is redrawn) rarely.
pub fn age_text(snapshot: &Snapshot, service: &ServiceView) -> String {
    age_s(snapshot, service).map_or_else(
        || "-".to_string(),
        |secs| {
            if secs < 60 {
                format!("{}s", secs / 10 * 10)
            } else {
                short_duration(secs)
            }
        },
    )
}

/// A duration in its largest whole unit: `45s`, `7m`, `2h`, `3d` (rounded down).
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A duration in seconds (fractional, from a probe) as [`short_duration`] shows it.
pub fn short_secs(secs: f64) -> String {
    if secs.is_finite() && secs >= 0.0 {
        short_duration(secs as u64)
    } else {
        "-".to_string()
    }
}

/// The fallback as shown: `cached DEK (7m left)` while a time-limited fallback carries it.
pub fn fallback_text(service: &ServiceView) -> Option<String> {
    let text = service.fallback.as_deref()?;
    Some(match service.fallback_left_s {
        Some(left) => format!("{text} ({} left)", short_duration(left)),
        None => text.to_string(),
    })
}

/// How a queue's backlog is moving: `empty`, `3m` to drain, `growing`, `steady`, or `-`.
pub fn eta_text(queue: &QueueView) -> String {
    match (queue.depth, queue.drain_per_s, queue.eta_s) {
        (Some(0), _, _) => "empty".to_string(),
        (_, Some(rate), _) if rate < 0.0 => "growing".to_string(),
        (_, _, Some(eta)) => short_secs(eta),
        (Some(_), Some(_), None) => "steady".to_string(),
        _ => "-".to_string(),
    }
}

/// A rate in messages per second: `12/s`, `0.4/s`.
pub fn rate_text(rate: f64) -> String {
    let r = rate.abs();
    if r >= 10.0 {
        format!("{r:.0}/s")
    } else {
        format!("{r:.1}/s")
    }
}

/// A count with thousands separators: `12,408`.
pub fn count_text(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One service in one line, for the clipboard: what a message to the incident channel needs.
pub fn copy_text(snapshot: &Snapshot, s: &ServiceView) -> String {
    let mut parts = vec![format!("{} ({})", s.name, s.id)];
    match s.sev {
        Some(level) => parts.push(format!("{} {}", shown_state(s), snapshot.sev_name(level))),
        None => parts.push(shown_state(s).to_string()),
    }
    if let Some(region) = &s.region {
        parts.push(format!("region {region}"));
    }
    if s.is_impacted() {
        parts.push(format!("impacted by {}", s.impacted_by.join(", ")));
    }
    if let Some(error) = &s.error {
        parts.push(error.clone());
    }
    if !s.summary.is_empty() && s.error.as_deref() != Some(s.summary.as_str()) {
        parts.push(s.summary.clone());
    }
    if s.state_word() != "up"
        && let Some(fallback) = fallback_text(s)
    {
        parts.push(format!("fallback: {fallback}"));
    }
    if !s.blast_radius.is_empty() {
        parts.push(format!("takes down {}", s.blast_radius.join(", ")));
    }
    if s.stale {
        parts.push(format!("data stale, {} old", age_text(snapshot, s)));
    }
    parts.push(format!(
        "as of {}",
        snapshot.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    parts.join(" · ")
}

/// Whether two snapshots look the same on screen. Fields that tick with the clock are
/// compared through the text they are shown as; the rest compare exactly.
pub(super) fn same_on_screen(a: &Snapshot, b: &Snapshot) -> bool {
    a.estate == b.estate
        && a.environment == b.environment
        && a.status == b.status
        && a.worst_sev == b.worst_sev
        && a.counts == b.counts
        && a.sev_names == b.sev_names
        && a.regions == b.regions
        && a.queues == b.queues
        && a.events == b.events
        && a.services.len() == b.services.len()
        && a.services.iter().zip(&b.services).all(|(x, y)| {
            age_text(a, x) == age_text(b, y)
                && fallback_text(x) == fallback_text(y)
                && (x == y || without_clock(x) == without_clock(y))
        })
}

fn without_clock(s: &ServiceView) -> ServiceView {
    ServiceView {
        observed_at: None,
        fallback_left_s: None,
        ..s.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shown_in_their_largest_unit() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(60), "1m");
        assert_eq!(short_duration(479), "7m");
        assert_eq!(short_duration(7200), "2h");
        assert_eq!(short_duration(200_000), "2d");
        assert_eq!(short_secs(-1.0), "-");
        assert_eq!(short_secs(f64::NAN), "-");
    }

    #[test]
    fn counts_and_rates_read_like_a_person_writes_them() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(12_408), "12,408");
        assert_eq!(count_text(1_000_000), "1,000,000");
        assert_eq!(rate_text(0.44), "0.4/s");
        assert_eq!(rate_text(-12.6), "13/s");
    }

    fn queue(depth: Option<u64>, drain: Option<f64>, eta: Option<f64>) -> QueueView {
        QueueView {
            service: "q".into(),
            depth,
            oldest_age_s: None,
            consumers: None,
            drain_per_s: drain,
            eta_s: eta,
            history: Vec::new(),
            extra: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn eta_says_empty_growing_steady_or_how_long() {
        assert_eq!(eta_text(&queue(Some(0), None, Some(0.0))), "empty");
        assert_eq!(eta_text(&queue(Some(10), Some(-2.0), None)), "growing");
        assert_eq!(eta_text(&queue(Some(600), Some(2.0), Some(300.0))), "5m");
        assert_eq!(eta_text(&queue(Some(600), Some(0.0), None)), "steady");
        assert_eq!(eta_text(&queue(None, None, None)), "-");
    }
}
