//! The drill report: what was drilled, what the fault hit, how long detection and recovery took
//! on the scenario clock, how much data a restore lost, each against the estate's RTO and RPO,
//! and how each runbook step went. Written as JSON (`opsdeck.drill/v1`) and Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub runbook: String,
    pub title: String,
    pub scenario: String,
    pub scenario_summary: String,
    pub estate: String,
    /// Simulated seconds per wall-clock second.
    pub speed: f64,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When the fault began, on the scenario clock (seconds).
    pub fault_at_s: f64,
    /// Services unhealthy at some point (not counting those the simulator cannot serve).
    pub affected: Vec<String>,
    /// Fault to the first poll that showed a service unhealthy; none when nothing showed.
    pub time_to_detect_s: Option<f64>,
    /// Fault to every affected service up again and the runbook finished.
    pub time_to_recover_s: Option<f64>,
    /// Services still unhealthy when the drill gave up.
    pub still_unhealthy: Vec<String>,
    /// For restores: the fault back to the moment the restored data is from.
    pub data_loss_s: Option<f64>,
    /// Where the data-loss figure comes from (the backup's time, the point in time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_loss_basis: Option<String>,
    pub rto_s: Option<f64>,
    pub rpo_s: Option<f64>,
    /// None when the estate sets no RTO (or RPO), or there is nothing to compare.
    pub rto_met: Option<bool>,
    pub rpo_met: Option<bool>,
    pub runs: Vec<TargetRun>,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    /// Why it failed, one sentence each.
    pub reasons: Vec<String>,
    /// Where the drill's audit log is.
    pub audit_log: String,
}

/// The runbook's run against one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetRun {
    pub target: String,
    pub outcome: String,
    pub exit_code: u8,
    pub detail: String,
    /// When it started and finished, on the scenario clock.
    pub started_s: f64,
    pub finished_s: f64,
    pub steps: Vec<StepLine>,
}

/// One finished step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepLine {
    pub n: usize,
    pub result: String,
    pub detail: String,
    /// Scenario seconds it took.
    pub took_s: f64,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let mark = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            s,
            "# Drill {mark}: {} against {}\n",
            self.runbook, self.scenario
        );
        let _ = writeln!(s, "{} — {}\n", self.title, self.scenario_summary);
        let _ = writeln!(
            s,
            "Estate **{}**, started {}, scenario clock at {}× wall time. Every time below is on the scenario clock, from the fault (at {}).\n",
            self.estate,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.speed,
            dur(Some(self.fault_at_s))
        );
        let _ = writeln!(s, "| measure | measured | target | met |");
        let _ = writeln!(s, "|---|---|---|---|");
        let _ = writeln!(
            s,
            "| time to detect | {} | – | – |",
            dur(self.time_to_detect_s)
        );
        let _ = writeln!(
            s,
            "| time to recover (RTO) | {} | {} | {} |",
            dur(self.time_to_recover_s),
            dur(self.rto_s),
            met(self.rto_met)
        );
        let _ = writeln!(
            s,
            "| data-loss window (RPO) | {} | {} | {} |",
            dur(self.data_loss_s),
            dur(self.rpo_s),
            met(self.rpo_met)
        );
        if let Some(b) = &self.data_loss_basis {
            let _ = writeln!(s, "\nData loss: {b}.");
        }
        let affected = if self.affected.is_empty() {
            "none (the fault was not visible to any probe)".to_string()
        } else {
            self.affected.join(", ")
        };
        let _ = writeln!(s, "\nAffected services: {affected}.");
        if !self.still_unhealthy.is_empty() {
            let _ = writeln!(
                s,
                "Still unhealthy at the end: {}.",
                self.still_unhealthy.join(", ")
            );
        }
        for run in &self.runs {
            let _ = writeln!(
                s,
                "\n## {} on `{}`: {} (exit {})\n\nFrom {} to {}. {}\n",
                self.runbook,
                run.target,
                run.outcome,
                run.exit_code,
                dur(Some(run.started_s)),
                dur(Some(run.finished_s)),
                run.detail
            );
            let _ = writeln!(s, "| step | result | took | detail |");
            let _ = writeln!(s, "|---|---|---|---|");
            for st in &run.steps {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    st.n,
                    st.result,
                    dur(Some(st.took_s)),
                    st.detail.replace('|', "\\|").replace('\n', " ")
                );
            }
        }
        let _ = writeln!(s, "\n## Verdict: {mark}\n");
        if self.reasons.is_empty() {
            let _ = writeln!(
                s,
                "Every run finished and every target that is set was met."
            );
        }
        for r in &self.reasons {
            let _ = writeln!(s, "- {r}");
        }
        let _ = writeln!(s, "\nAudit log of the drill: `{}`", self.audit_log);
        s
    }

    /// Writes `<dir>/<stem>.json` and `<dir>/<stem>.md`; returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join(format!("{stem}.json"));
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(
            &json,
            serde_json::to_string_pretty(self).unwrap_or_default(),
        )?;
        std::fs::write(&md, self.markdown())?;
        Ok((json, md))
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "yes",
        Some(false) => "**NO**",
        None => "–",
    }
}

/// Seconds as `12m05s` (`–` for none).
pub fn dur(s: Option<f64>) -> String {
    match s {
        None => "–".to_string(),
        Some(x) => {
            let total = x.max(0.0).round() as u64;
            if total >= 3600 {
                format!(
                    "{}h{:02}m{:02}s",
                    total / 3600,
                    total % 3600 / 60,
                    total % 60
                )
            } else {
                format!("{}m{:02}s", total / 60, total % 60)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(dur(Some(75.4)), "1m15s");
        assert_eq!(dur(Some(3725.0)), "1h02m05s");
        assert_eq!(dur(None), "–");
    }
}
