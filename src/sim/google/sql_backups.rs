//! Cloud SQL backups: the backup runs of an instance (list, get, and an on-demand backup as a
//! long-running operation), and the newer Backups API list `gcloud sql backups list` uses
//! without `--instance`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::cloud_sql::{SERVICE, stamp};
use super::errors::sql_busy;
use super::{Answer, Call, Reply, guarded, known_fields, list_body, paginate};
use crate::sim::knobs::Knobs;
use crate::sim::state::{Api, OpKind, Resource, World};

/// `{"instance":"db-1","kind":"sql#backupRun"}`: an on-demand backup.
pub(super) fn backup(
    world: &mut World,
    body: &Map<String, Value>,
    i: usize,
) -> Result<usize, Reply> {
    known_fields(
        body,
        "",
        &[
            "kind",
            "instance",
            "description",
            "type",
            "location",
            "backupKind",
            "id",
        ],
    )?;
    if world.busy(i) {
        return Err(sql_busy());
    }
    let r = &world.resources[i];
    let (project, location) = (r.project.clone(), r.location.clone());
    let mut run = backup_run_body(&r.body, &project, world.wall, "ON_DEMAND", "ENQUEUED", None);
    if let Some(d) = body.get("description") {
        run["description"] = d.clone();
    }
    let id = run["id"].as_str().unwrap_or_default().to_string();
    let run = world.add(Resource {
        api: Api::SqlBackupRun,
        project,
        location,
        id,
        path: String::new(),
        body: run,
        knobs: Knobs::default(),
        parent: Some(i),
    });
    Ok(world.start_op(Api::CloudSql, i, OpKind::SqlBackup { run }))
}

/// A `BackupRun` of `instance` started at `start`.
pub(crate) fn backup_run_body(
    instance: &Value,
    project: &str,
    start: DateTime<Utc>,
    kind: &str,
    status: &str,
    end: Option<DateTime<Utc>>,
) -> Value {
    let name = instance["name"].as_str().unwrap_or_default();
    let id = start.timestamp_millis().to_string();
    let mut run = json!({
        "kind": "sql#backupRun",
        "id": id,
        "instance": name,
        "status": status,
        "type": kind,
        "backupKind": "SNAPSHOT",
        "enqueuedTime": stamp(start),
        "location": instance.pointer("/settings/backupConfiguration/location").cloned().unwrap_or_else(|| instance["region"].clone()),
        "databaseVersion": instance["databaseVersion"],
        "selfLink": format!("https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{name}/backupRuns/{id}")
    });
    if status != "ENQUEUED" {
        run["startTime"] = json!(stamp(start + chrono::Duration::milliseconds(77)));
    }
    if let Some(end) = end {
        run["endTime"] = json!(stamp(end));
    }
    if kind == "AUTOMATED" {
        run["windowStartTime"] = json!(start.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    run
}

pub(super) fn backup_run_list(world: &World, call: &Call, mut runs: Vec<usize>) -> Answer {
    let parents: Vec<usize> = runs
        .iter()
        .filter_map(|r| world.resources[*r].parent)
        .collect();
    runs.sort_by(|a, b| world.resources[*b].id.cmp(&world.resources[*a].id));
    guarded(world, &parents, SERVICE, |w| {
        let items = runs.iter().map(|r| w.resources[*r].body.clone()).collect();
        match paginate(items, call.query, "maxResults", "max_results") {
            Ok((items, next)) => {
                let mut body = json!({"kind": "sql#backupRunsList"});
                if !items.is_empty() {
                    body["items"] = Value::Array(items);
                }
                if let Some(n) = next {
                    body["nextPageToken"] = Value::String(n);
                }
                Reply::ok(body)
            }
            Err(e) => e,
        }
    })
}

/// The newer Backups API (`gcloud sql backups list` without `--instance`).
pub(super) fn backups(world: &World, call: &Call, project: &str) -> Answer {
    let mut runs = world.list(Api::SqlBackupRun, project, None);
    runs.sort_by(|a, b| world.resources[*b].id.cmp(&world.resources[*a].id));
    let items: Vec<Value> = runs
        .iter()
        .map(|r| {
            let run = &world.resources[*r].body;
            let mut b = json!({
                "name": format!("projects/{project}/backups/{}", world.resources[*r].id),
                "kind": "sql#backup",
                "instance": run["instance"],
                "type": run["type"],
                "state": run["status"],
                "location": run["location"],
                "databaseVersion": run["databaseVersion"],
                "backupKind": run["backupKind"]
            });
            if let (Some(s), Some(e)) = (run.get("startTime"), run.get("endTime")) {
                b["backupInterval"] = json!({"startTime": s, "endTime": e});
            }
            b
        })
        .collect();
    match paginate(items, call.query, "pageSize", "page_size") {
        Ok((items, next)) => Reply::ok(list_body("backups", items, next)).into(),
        Err(e) => e.into(),
    }
}
