//! `--once --format nagios`: the Nagios plugin API output (one status line, long text, and
//! `label=value[UOM];warn;crit;min;max` perfdata), so NRPE, check_by_ssh and Icinga can run
//! opsdeck directly. The exit code is the same as for every other format.

use std::fmt::Write as _;

use crate::model::{Overall, Snapshot, Status};
use crate::ui::text::sanitize;

/// The plugin output for a snapshot.
pub fn to_nagios(snapshot: &Snapshot, timed_out: bool) -> String {
    let status = if timed_out {
        Overall::Unknown
    } else {
        snapshot.status
    };
    let c = &snapshot.counts;
    let mut headline = format!(
        "OPSDECK {} - {}",
        status.as_str().to_uppercase(),
        one_line(&snapshot.estate)
    );
    let problems: Vec<_> = snapshot
        .services
        .iter()
        .filter(|s| s.status != Status::Up || s.is_impacted() || s.stale)
        .collect();
    if problems.is_empty() {
        let _ = write!(headline, ": all {} services up", snapshot.services.len());
    } else {
        let roots: Vec<String> = problems
            .iter()
            .filter(|s| matches!(s.status, Status::Down | Status::Degraded))
            .take(3)
            .map(|s| {
                let sev = s
                    .sev
                    .map_or_else(String::new, |v| format!(" {}", snapshot.sev_name(v)));
                format!("{} {}{sev}", one_line(&s.id), s.status)
            })
            .collect();
        let _ = write!(
            headline,
            ": {} down, {} degraded, {} impacted, {} unknown",
            c.down, c.degraded, c.impacted, c.unknown
        );
        if !roots.is_empty() {
            let _ = write!(headline, " ({})", roots.join(", "));
        }
    }
    if timed_out {
        headline.push_str(" [run timed out: partial results]");
    }

    let mut perf = vec![
        perf("services", snapshot.services.len() as f64, "", None, None),
        perf("up", c.up as f64, "", None, None),
        perf("degraded", c.degraded as f64, "", Some(0.0), None),
        perf("down", c.down as f64, "", None, Some(0.0)),
        perf("impacted", c.impacted as f64, "", None, None),
        perf("unknown", c.unknown as f64, "", None, None),
        perf("stale", c.stale as f64, "", None, None),
    ];
    if let Some(w) = snapshot.worst_sev {
        perf.push(format!("worst_sev={w};;;1;4"));
    }
    for q in &snapshot.queues {
        if let Some(d) = q.depth {
            perf.push(perf_label(&format!("{}_depth", q.service), &d.to_string()));
        }
        if let Some(a) = q.oldest_age_s {
            perf.push(perf_label(
                &format!("{}_oldest", q.service),
                &format!("{a}s"),
            ));
        }
    }
    let mut out = format!("{headline} | {}\n", perf.join(" "));
    // What opsdeck cannot see comes first in the long output, once per cause.
    for line in super::table::blind_lines(snapshot) {
        let _ = writeln!(out, "{}", one_line(&line));
    }
    for s in problems {
        let sev = s
            .sev
            .map_or_else(|| "-".to_string(), |v| snapshot.sev_name(v).to_string());
        let why = s.error.as_deref().unwrap_or(&s.summary);
        let mut line = format!("{sev} {} {}", one_line(&s.id), s.state_word());
        if s.stale {
            line.push_str(" (stale)");
        }
        // Listed, but it does not count for the status line's state.
        if let Some(silence) = s.silence.as_ref().filter(|_| s.silenced) {
            let _ = write!(
                line,
                " (silenced until {}: {})",
                silence.until.format("%Y-%m-%d %H:%M UTC"),
                one_line(&silence.reason)
            );
        } else if s.silenced {
            line.push_str(" (silenced)");
        }
        if !s.impacted_by.is_empty() {
            let _ = write!(line, " (impacted by {})", s.impacted_by.join(", "));
        }
        let _ = writeln!(out, "{line}: {}", one_line(why));
    }
    out
}

/// Plugin text may not contain `|` (it starts perfdata) or line breaks.
fn one_line(s: &str) -> String {
    sanitize(s).replace('|', "/").replace(['\n', '\r'], " ")
}

fn perf(label: &str, value: f64, uom: &str, warn: Option<f64>, crit: Option<f64>) -> String {
    let t = |x: Option<f64>| x.map_or_else(String::new, |v| v.to_string());
    format!("{label}={value}{uom};{};{};0;", t(warn), t(crit))
}

/// A perfdata item whose label may hold any character: quoted, with `'` doubled and `=`
/// replaced (the plugin API forbids it in labels).
fn perf_label(label: &str, value_with_uom: &str) -> String {
    let clean: String = sanitize(label)
        .chars()
        .map(|c| if c == '=' { '_' } else { c })
        .collect();
    format!("'{}'={value_with_uom};;;0;", clean.replace('\'', "''"))
}
