//! What the tests that run the real binary share: reading `--once --json` output and
//! finding a service in it.
// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use std::process::Output;

use serde_json::Value;

/// The JSON document on stdout and the exit code; a panic that shows both streams when stdout
/// is not JSON.
pub fn json_of(out: &Output) -> (Value, i32) {
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().expect("exit code"))
}

/// The service with this id in a `--once --json` document.
pub fn service<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["services"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("no service {id}"))
}
