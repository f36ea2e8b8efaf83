//! The `--once --format table` view: a header line and one aligned row per service, worst
//! first. API-provided text is made inert before it reaches the terminal.

use crate::model::{Overall, ServiceView, Snapshot};
use crate::ui::text::sanitize;

const MAX_CELL: usize = 48;

/// The table text for a snapshot.
pub fn to_table(snapshot: &Snapshot, timed_out: bool) -> String {
    let status = if timed_out {
        Overall::Unknown
    } else {
        snapshot.status
    };
    let c = &snapshot.counts;
    let mut parts = vec![format!(
        "{} ({})",
        sanitize(&snapshot.estate),
        sanitize(&snapshot.environment)
    )];
    parts.push(format!(
        "{} (exit {})",
        status.as_str().to_uppercase(),
        status.exit_code()
    ));
    if let Some(w) = snapshot.worst_sev {
        parts.push(format!("worst {}", snapshot.sev_name(w)));
    }
    for (n, word) in [
        (c.down, "down"),
        (c.degraded, "degraded"),
        (c.impacted, "impacted"),
        (c.unknown, "unknown"),
        (c.stale, "stale"),
        (c.up, "up"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.push(format!(
        "{} region{}",
        snapshot.regions.len(),
        if snapshot.regions.len() == 1 { "" } else { "s" }
    ));
    if timed_out {
        parts.push("timed out: partial results".to_string());
    }
    let mut out = parts.join(" · ");
    out.push('\n');
    for line in blind_lines(snapshot) {
        out.push_str(&line);
        out.push('\n');
    }

    let header = [
        "SEV",
        "STATUS",
        "SERVICE",
        "REGION",
        "IMPACTED BY",
        "FALLBACK",
        "SUMMARY",
    ];
    let rows: Vec<[String; 7]> = snapshot.services.iter().map(|s| row(snapshot, s)).collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        l.trim_end().to_string()
    };
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// One line per thing opsdeck cannot see: "BLIND: cause (n services: a, b): fix".
pub(crate) fn blind_lines(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .blind
        .iter()
        .map(|b| {
            let n = b.services.len();
            let mut names: Vec<&str> = b.services.iter().take(6).map(String::as_str).collect();
            if n > names.len() {
                names.push("…");
            }
            sanitize(&format!(
                "BLIND: {} ({n} service{}: {}): {}",
                b.message,
                if n == 1 { "" } else { "s" },
                names.join(", "),
                b.fix
            ))
            .into_owned()
        })
        .collect()
}

fn clip(s: &str) -> String {
    let clean = sanitize(s);
    if clean.chars().count() > MAX_CELL {
        let cut: String = clean.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        clean.into_owned()
    }
}

fn row(snapshot: &Snapshot, s: &ServiceView) -> [String; 7] {
    let sev = s
        .sev
        .map_or_else(|| "-".to_string(), |v| snapshot.sev_name(v).to_string());
    let mut status = s.state_word().to_string();
    if s.stale {
        status.push_str(" (stale)");
    }
    if s.silenced {
        status.push_str(" (silenced)");
    }
    let impacted = if s.impacted_by.is_empty() {
        "-".to_string()
    } else {
        s.impacted_by.join(", ")
    };
    let fallback = match (&s.fallback, s.fallback_left_s) {
        (Some(f), Some(left)) if s.is_impacted() => {
            format!(
                "{f} ({} left)",
                humantime::format_duration(std::time::Duration::from_secs(left))
            )
        }
        (Some(f), _) if s.is_impacted() || s.failing || s.status != crate::model::Status::Up => {
            f.clone()
        }
        _ => "-".to_string(),
    };
    let mut summary = match (&s.error, s.status) {
        (Some(e), st) if st != crate::model::Status::Up || s.stale => e.clone(),
        _ => s.summary.clone(),
    };
    if let Some(c) = s.change.as_ref().filter(|_| s.state_word() != "up") {
        summary.push_str(&format!(" · changed {}", c.label(&s.id)));
    }
    [
        sev,
        status,
        clip(&s.id),
        clip(s.region.as_deref().unwrap_or("-")),
        clip(&impacted),
        clip(&fallback),
        sanitize(&summary).into_owned(),
    ]
}
