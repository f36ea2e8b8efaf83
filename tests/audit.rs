//! The audit log's hash chain: `audit verify` finds an edited entry, a removed one (in the
//! middle or at the end), an inserted one, and says an empty or missing log is fine.

use std::path::Path;
use std::process::Command;

use opsdeck::runbook::audit::{AuditLog, Entry, Event, Verdict};

fn write_entries(dir: &Path, n: usize) -> AuditLog {
    let log = AuditLog::in_dir(dir);
    for i in 0..n {
        let mut e = Entry::new(
            "r-1",
            if i == 0 {
                Event::RunStarted
            } else {
                Event::StepFinished
            },
        );
        e.target = Some("sql".into());
        e.step = (i > 0).then_some(i);
        e.result = Some("ok".into());
        log.append(e).expect("append");
    }
    log
}

fn lines(log: &AuditLog) -> Vec<String> {
    std::fs::read_to_string(log.path())
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect()
}

fn put(log: &AuditLog, lines: &[String]) {
    std::fs::write(log.path(), lines.join("\n") + "\n").expect("write");
}

fn broken(log: &AuditLog) -> String {
    match log.verify() {
        Verdict::Broken(p) => p.join("; "),
        other => panic!("tampering not found: {other:?}"),
    }
}

#[test]
fn an_untouched_log_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_entries(dir.path(), 5);
    assert_eq!(log.verify(), Verdict::Intact { entries: 5 });
}

#[test]
fn an_edited_entry_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_entries(dir.path(), 5);
    let mut l = lines(&log);
    l[2] = l[2].replace("\"ok\"", "\"failed\"");
    put(&log, &l);
    let why = broken(&log);
    assert!(why.contains("line 3") && why.contains("edited"), "{why}");
}

#[test]
fn an_entry_removed_from_the_middle_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_entries(dir.path(), 5);
    let mut l = lines(&log);
    l.remove(1);
    put(&log, &l);
    let why = broken(&log);
    assert!(why.contains("line 2") && why.contains("removed"), "{why}");
}

#[test]
fn entries_cut_from_the_end_are_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_entries(dir.path(), 5);
    let mut l = lines(&log);
    l.truncate(3);
    put(&log, &l);
    let why = broken(&log);
    assert!(why.contains("the last 2 entries were removed"), "{why}");
}

#[test]
fn an_entry_inserted_with_a_forged_hash_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write_entries(dir.path(), 3);
    let mut l = lines(&log);
    let copy = l[1].clone();
    l.insert(2, copy);
    put(&log, &l);
    let why = broken(&log);
    assert!(why.contains("line 3"), "{why}");
}

#[test]
fn a_missing_head_is_tampering_but_an_empty_log_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::in_dir(dir.path());
    assert_eq!(log.verify(), Verdict::Empty);
    let log = write_entries(dir.path(), 2);
    std::fs::remove_file(dir.path().join("audit.head")).expect("remove head");
    assert!(broken(&log).contains("head file"));
}

#[test]
fn the_command_exits_0_when_intact_and_1_when_tampered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_opsdeck"))
            .args(["audit", "verify"])
            .env("OPSDECK_DATA_DIR", dir.path())
            .output()
            .expect("runs")
    };
    let empty = verify();
    assert_eq!(empty.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&empty.stdout).contains("nothing to verify"));
    let log = write_entries(dir.path(), 3);
    assert_eq!(verify().status.code(), Some(0));
    let mut l = lines(&log);
    l[0] = l[0].replace("r-1", "r-2");
    put(&log, &l);
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("tampered"));
}
