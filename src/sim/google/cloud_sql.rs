//! Cloud SQL Admin API, served alike under `v1/` and `sql/v1beta4/`: instances get and list,
//! failover (checking `settingsVersion`), restoreBackup, clone at a point in time,
//! getLatestRecoveryTime, and operations get and list; backups in `sql_backups.rs`. Errors in
//! Cloud SQL's own legacy shape.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::errors::{self, sql_busy, sql_error};
use super::sql_backups::{backup, backup_run_list, backups};
use super::{Answer, Call, Reply, guarded, json_body, known_fields, paginate, query_param};
use crate::sim::knobs::Knobs;
use crate::sim::state::{Api, OpKind, OpStatus, Resource, World};

pub(super) const SERVICE: &str = "sqladmin.googleapis.com";

/// `projects/{project}/` + `rest`, under `prefix` (`v1` or `sql/v1beta4`).
pub(crate) fn route(
    world: &mut World,
    call: &Call,
    prefix: &str,
    project: &str,
    rest: &[&str],
    verb: Option<&str>,
) -> Answer {
    if verb.is_some() {
        return errors::no_method().into();
    }
    let get = matches!(call.method, "GET" | "HEAD");
    let post = call.method == "POST";
    match rest {
        ["instances"] if get => {
            let all: Vec<usize> = world.list(Api::CloudSql, project, None);
            guarded(world, &all, SERVICE, |w| {
                match paginate(all.clone(), call.query, "maxResults", "max_results") {
                    Ok((page, next)) => {
                        let items: Vec<Value> =
                            page.iter().map(|i| w.resources[*i].body.clone()).collect();
                        let mut body = json!({"kind": "sql#instancesList"});
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
        ["operations"] if get => list_operations(world, call, prefix, project),
        ["operations", id] if get => match world.find_op(project, id) {
            Some(o) if world.ops[o].api == Api::CloudSql => {
                let target = world.ops[o].target;
                guarded(world, &[target], SERVICE, |w| {
                    Reply::ok(operation(w, o, prefix))
                })
            }
            _ => sql_error(
                404,
                "operationDoesNotExist",
                &format!("The operation {id} does not exist."),
            )
            .into(),
        },
        ["backups"] if get => backups(world, call, project),
        ["instances", "-", "backupRuns"] if get => {
            let all = world.list(Api::SqlBackupRun, project, None);
            backup_run_list(world, call, all)
        }
        ["instances", instance, tail @ ..] => {
            let Some(i) = world.find(Api::CloudSql, project, None, instance) else {
                return instance_not_found().into();
            };
            match tail {
                [] if get => guarded(world, &[i], SERVICE, |w| {
                    Reply::ok(w.resources[i].body.clone())
                }),
                ["failover"] if post => act(world, call, i, prefix, failover),
                ["restoreBackup"] if post => act(world, call, i, prefix, restore),
                ["clone"] if post => act(world, call, i, prefix, clone),
                ["backupRuns"] if post => act(world, call, i, prefix, backup),
                ["getLatestRecoveryTime"] if get => {
                    guarded(world, &[i], SERVICE, |w| recovery_window(w, i))
                }
                ["backupRuns"] if get => {
                    let runs = world.children(Api::SqlBackupRun, i);
                    backup_run_list(world, call, runs)
                }
                ["backupRuns", id] if get => {
                    match world
                        .children(Api::SqlBackupRun, i)
                        .into_iter()
                        .find(|r| world.resources[*r].id == *id)
                    {
                        Some(r) => guarded(world, &[i], SERVICE, |w| {
                            Reply::ok(w.resources[r].body.clone())
                        }),
                        None => backup_not_found().into(),
                    }
                }
                _ => errors::no_method().into(),
            }
        }
        _ => errors::not_found().into(),
    }
}

/// Cloud SQL's 404 for an instance (real-samples).
fn instance_not_found() -> Reply {
    sql_error(
        404,
        "instanceDoesNotExist",
        "The Cloud SQL instance does not exist.",
    )
}

fn backup_not_found() -> Reply {
    sql_error(
        404,
        "backupRunDoesNotExist",
        "The backup run does not exist.",
    )
}

/// A 400 in Cloud SQL's shape: code and message only (real-samples).
fn invalid(message: &str) -> Reply {
    Reply {
        status: 400,
        body: json!({"error": {"code": 400, "message": format!("Invalid request: {message}")}}),
    }
}

type Action = fn(&mut World, &Map<String, Value>, usize) -> Result<usize, Reply>;

/// An action on instance `i`: the body checked, the fault honoured, an operation started.
fn act(world: &mut World, call: &Call, i: usize, prefix: &str, action: Action) -> Answer {
    let body = match json_body(call) {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    let checked = guarded(world, &[i], SERVICE, |_| Reply::ok(Value::Null));
    if checked.reply.status != 200 {
        return checked;
    }
    let reply = match action(world, &body, i) {
        Ok(op) => Reply::ok(operation(world, op, prefix)),
        Err(e) => e,
    };
    Answer { reply, ..checked }
}

/// `{"failoverContext":{"kind":"sql#failoverContext","settingsVersion":"42"}}`.
fn failover(world: &mut World, body: &Map<String, Value>, i: usize) -> Result<usize, Reply> {
    known_fields(body, "", &["failoverContext"])?;
    let context = object(body, "failoverContext")?;
    known_fields(&context, "failover_context", &["kind", "settingsVersion"])?;
    let instance = &world.resources[i].body;
    if let Some(v) = context.get("settingsVersion") {
        let asked = int64(v).ok_or_else(|| {
            errors::invalid_value("failover_context.settings_version", "TYPE_INT64", &shown(v))
        })?;
        let current = instance
            .pointer("/settings/settingsVersion")
            .and_then(int64)
            .unwrap_or(0);
        if asked != 0 && asked != current {
            return Err(Reply {
                status: 412,
                body: json!({"error": {
                    "code": 412,
                    "errors": [{"domain": "global", "location": "If-Match", "locationType": "header", "message": "Precondition check failed.", "reason": "conditionNotMet"}],
                    "message": "Precondition check failed."
                }}),
            });
        }
    }
    if instance
        .pointer("/settings/availabilityType")
        .and_then(Value::as_str)
        != Some("REGIONAL")
    {
        return Err(invalid(
            "The instance is not configured for high availability (availabilityType REGIONAL), so it has no standby to fail over to.",
        ));
    }
    if world.busy(i) {
        return Err(sql_busy());
    }
    Ok(world.start_op(Api::CloudSql, i, OpKind::SqlFailover))
}

/// `{"restoreBackupContext":{"backupRunId":"…","instanceId":"…","project":"…"}}`.
fn restore(world: &mut World, body: &Map<String, Value>, i: usize) -> Result<usize, Reply> {
    known_fields(
        body,
        "",
        &[
            "restoreBackupContext",
            "backup",
            "backupdrBackup",
            "restoreInstanceSettings",
        ],
    )?;
    let context = object(body, "restoreBackupContext")?;
    known_fields(
        &context,
        "restore_backup_context",
        &["kind", "backupRunId", "instanceId", "project"],
    )?;
    let project = world.resources[i].project.clone();
    let source_project = context
        .get("project")
        .and_then(Value::as_str)
        .unwrap_or(&project);
    let source_name = context
        .get("instanceId")
        .and_then(Value::as_str)
        .unwrap_or(&world.resources[i].id)
        .to_string();
    let run = match (
        context.get("backupRunId"),
        body.get("backup").and_then(Value::as_str),
    ) {
        (Some(v), _) => {
            let id = int64(v).ok_or_else(|| {
                errors::invalid_value(
                    "restore_backup_context.backup_run_id",
                    "TYPE_INT64",
                    &shown(v),
                )
            })?;
            let source = world
                .find(Api::CloudSql, source_project, None, &source_name)
                .ok_or_else(instance_not_found)?;
            world
                .children(Api::SqlBackupRun, source)
                .into_iter()
                .find(|r| world.resources[*r].id == id.to_string())
        }
        (None, Some(name)) => {
            let id = name.rsplit('/').next().unwrap_or_default();
            world
                .list(Api::SqlBackupRun, source_project, None)
                .into_iter()
                .find(|r| world.resources[*r].id == id)
        }
        (None, None) => {
            return Err(invalid(
                "restoreBackupContext.backupRunId or backup is required.",
            ));
        }
    };
    let Some(run) = run else {
        return Err(backup_not_found());
    };
    if world.resources[run].body["status"] != "SUCCESSFUL" {
        return Err(invalid(
            "The backup run did not succeed and cannot be restored.",
        ));
    }
    if world.busy(i) {
        return Err(sql_busy());
    }
    Ok(world.start_op(Api::CloudSql, i, OpKind::SqlRestore))
}

/// `{"cloneContext":{"destinationInstanceName":"…","pointInTime":"…"}}`.
fn clone(world: &mut World, body: &Map<String, Value>, i: usize) -> Result<usize, Reply> {
    known_fields(body, "", &["cloneContext"])?;
    let context = object(body, "cloneContext")?;
    known_fields(
        &context,
        "clone_context",
        &[
            "kind",
            "destinationInstanceName",
            "pointInTime",
            "preferredZone",
            "preferredSecondaryZone",
            "databaseNames",
            "allocatedIpRange",
            "binLogCoordinates",
            "pitrTimestampMs",
            "sourceInstanceDeletionTime",
        ],
    )?;
    let Some(dest) = context
        .get("destinationInstanceName")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    else {
        return Err(invalid("cloneContext.destinationInstanceName is required."));
    };
    let source = world.resources[i].clone();
    if world
        .find(Api::CloudSql, &source.project, None, dest)
        .is_some()
    {
        return Err(sql_error(
            409,
            "instanceAlreadyExists",
            "The Cloud SQL instance already exists.",
        ));
    }
    if let Some(v) = context.get("pointInTime") {
        let at = v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| {
                errors::invalid_value(
                    "clone_context.point_in_time",
                    "type.googleapis.com/google.protobuf.Timestamp",
                    &shown(v),
                )
            })?
            .with_timezone(&Utc);
        let (earliest, latest) = window(world, i).ok_or_else(|| {
            invalid("Point-in-time recovery is not enabled for the source instance.")
        })?;
        if at < earliest || at > latest {
            return Err(invalid(&format!(
                "The point in time {} is outside the recovery window of the source instance ({} to {}).",
                stamp(at),
                stamp(earliest),
                stamp(latest)
            )));
        }
    }
    let mut body = source.body.clone();
    let (project, region) = (source.project.clone(), source.location.clone());
    body["name"] = json!(dest);
    body["state"] = json!("PENDING_CREATE");
    body["connectionName"] = json!(format!("{project}:{region}:{dest}"));
    body["selfLink"] = json!(format!(
        "https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{dest}"
    ));
    body["createTime"] = json!(world.stamp_millis());
    body["etag"] = json!(format!("{}=", &world.fresh_hex()[..12]));
    if let Value::Object(map) = &mut body {
        map.remove("replicaNames");
    }
    let hex = world.fresh_hex();
    body["ipAddresses"] = json!([{"type": "PRIVATE", "ipAddress": format!(
        "10.{}.{}.{}",
        u8::from_str_radix(&hex[0..2], 16).unwrap_or(1) % 250 + 1,
        u8::from_str_radix(&hex[2..4], 16).unwrap_or(0) % 250,
        u8::from_str_radix(&hex[4..6], 16).unwrap_or(2) % 250 + 2
    )}]);
    let new = world.add(Resource {
        api: Api::CloudSql,
        project,
        location: region,
        id: dest.to_string(),
        path: String::new(),
        body,
        knobs: Knobs::default(),
        parent: None,
    });
    Ok(world.start_op(Api::CloudSql, new, OpKind::SqlClone { source: i }))
}

/// The point-in-time recovery window of instance `i`, when it has one.
fn window(world: &World, i: usize) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let b = world.resources[i]
        .body
        .pointer("/settings/backupConfiguration")?;
    let on = b.get("pointInTimeRecoveryEnabled").and_then(Value::as_bool) == Some(true)
        || b.get("binaryLogEnabled").and_then(Value::as_bool) == Some(true);
    if !on {
        return None;
    }
    let days = b
        .get("transactionLogRetentionDays")
        .and_then(Value::as_i64)
        .unwrap_or(7);
    let latest = world.wall - chrono::Duration::seconds(5);
    let earliest = chrono::TimeDelta::try_days(days.clamp(0, 36_500))
        .and_then(|d| world.wall.checked_sub_signed(d))
        .unwrap_or(latest);
    Some((earliest, latest))
}

fn recovery_window(world: &World, i: usize) -> Reply {
    match window(world, i) {
        Some((earliest, latest)) => Reply::ok(json!({
            "kind": "sql#getLatestRecoveryTime",
            "latestRecoveryTime": stamp(latest),
            "earliestRecoveryTime": stamp(earliest)
        })),
        None => invalid("Point-in-time recovery is not enabled for this instance."),
    }
}

fn list_operations(world: &World, call: &Call, prefix: &str, project: &str) -> Answer {
    let instance = query_param(call.query, "instance");
    let mut ops: Vec<usize> = (0..world.ops.len())
        .filter(|o| {
            let op = &world.ops[*o];
            op.api == Api::CloudSql
                && op.project == project
                && instance
                    .as_deref()
                    .is_none_or(|i| world.resources[op.target].id == i)
        })
        .collect();
    ops.reverse();
    let items = ops.iter().map(|o| operation(world, *o, prefix)).collect();
    match paginate(items, call.query, "maxResults", "max_results") {
        Ok((items, next)) => {
            let mut body = json!({"kind": "sql#operationsList"});
            if !items.is_empty() {
                body["items"] = Value::Array(items);
            }
            if let Some(n) = next {
                body["nextPageToken"] = Value::String(n);
            }
            Reply::ok(body).into()
        }
        Err(e) => e.into(),
    }
}

/// A `sql#operation`.
pub(crate) fn operation(world: &World, o: usize, prefix: &str) -> Value {
    let op = &world.ops[o];
    let p = &op.project;
    let target = &world.resources[op.target].id;
    let mut body = json!({
        "kind": "sql#operation",
        "name": op.id,
        "operationType": op.kind.sql_type(),
        "status": match op.status {
            OpStatus::Pending => "PENDING",
            OpStatus::Running => "RUNNING",
            OpStatus::Done => "DONE",
        },
        "targetId": target,
        "targetProject": p,
        "targetLink": format!("https://sqladmin.googleapis.com/{prefix}/projects/{p}/instances/{target}"),
        "user": op.user,
        "insertTime": op.insert_time,
        "selfLink": format!("https://sqladmin.googleapis.com/{prefix}/projects/{p}/operations/{}", op.id)
    });
    if let Some(t) = &op.start_time {
        body["startTime"] = json!(t);
    }
    if let Some(t) = &op.end_time {
        body["endTime"] = json!(t);
    }
    if let OpKind::SqlBackup { run } = op.kind {
        body["backupContext"] =
            json!({"kind": "sql#backupContext", "backupId": world.resources[run].id});
    }
    body
}

/// A nested request message; absent is empty.
fn object(body: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Reply> {
    match body.get(key) {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(errors::bad_json(&format!(
            "Expected an object for \"{key}\", got {}.",
            shown(other)
        ))),
    }
}

/// An int64 written as a JSON string or number.
fn int64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
