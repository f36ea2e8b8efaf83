//! Drills: every shipped runbook drills green against the scenario its `[drill]` names, and a
//! deliberately slow scenario fails the estate's RTO with a report that says so. The figures
//! are measured on the scenario clock; these tests read only the verdict and the reasons.

use opsdeck::drill::{self, report::Report};
use opsdeck::runbook;

async fn run(id: &str, scenario: Option<&str>, root: &std::path::Path) -> Report {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runbook = runbook::builtin(id).unwrap_or_else(|| panic!("runbook {id}"));
    let setup = drill::setup_for(runbook, scenario, root).unwrap_or_else(|e| panic!("{id}: {e}"));
    let report = drill::drill(&setup)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    report
        .write(&setup.out_dir, "report")
        .unwrap_or_else(|e| panic!("{id}: cannot write the report: {e}"));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_shipped_runbook_drills_green_against_its_scenario() {
    let root = tempfile::tempdir().expect("tempdir");
    let ids = runbook::builtin_ids();
    assert!(ids.len() >= 11, "the shipped runbooks: {ids:?}");
    let reports = futures::future::join_all(ids.iter().map(|id| run(id, None, root.path()))).await;
    let mut failures = Vec::new();
    for (id, report) in ids.iter().zip(&reports) {
        assert_eq!(&report.runbook, id);
        assert!(!report.runs.is_empty(), "{id}: the runbook never ran");
        if !report.passed() {
            failures.push(format!("{id}:\n{}", report.markdown()));
            continue;
        }
        if let Some(rto) = report.rto_s {
            let ttr = report.time_to_recover_s.expect("a passing drill recovered");
            assert!(
                ttr <= rto,
                "{id}: passed with recovery {ttr}s over RTO {rto}s"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "drills that failed:\n{}",
        failures.join("\n\n")
    );
    let restore = reports
        .iter()
        .find(|r| r.runbook == "cloud-sql-restore-backup")
        .expect("restore drilled");
    assert!(
        restore.data_loss_s.is_some(),
        "a restore reports its data-loss window"
    );
    assert!(
        restore
            .data_loss_basis
            .as_deref()
            .is_some_and(|b| b.contains("backup"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_recovery_fails_the_rto_with_a_clear_report() {
    let root = tempfile::tempdir().expect("tempdir");
    let report = run(
        "cloud-sql-failover",
        Some("cloudsql-failover-slow"),
        root.path(),
    )
    .await;
    assert!(!report.passed());
    assert_eq!(report.rto_met, Some(false));
    let rto = report.rto_s.expect("the demo estate sets an RTO");
    let ttr = report.time_to_recover_s.expect("it does recover, late");
    assert!(ttr > rto, "recovered in {ttr}s, RTO {rto}s");
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.starts_with("RTO missed: recovery took")),
        "{:?}",
        report.reasons
    );
    let md = report.markdown();
    assert!(md.starts_with("# Drill FAIL"), "{md}");
    assert!(
        md.contains("| time to recover (RTO) |") && md.contains("**NO**"),
        "{md}"
    );
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(root.path())
                .expect("drill dir")
                .next()
                .expect("one drill")
                .expect("entry")
                .path()
                .join("report.json"),
        )
        .expect("report.json"),
    )
    .expect("json");
    assert_eq!(written["schema"], "opsdeck.drill/v1");
    assert_eq!(written["verdict"], "fail");
    assert_eq!(written["rto_met"], false);
}
