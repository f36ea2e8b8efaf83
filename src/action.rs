//! Actions: the only code in opsdeck that changes the systems it watches. One verb per file
//! in `action/`, each a unit struct implementing [`Action`] with its `NAME`
//! (`cloud_sql.failover`), and one registry mapping names to them. An action never decides
//! whether it may run: read-only mode, confirmation and the lease are the dispatcher's
//! (`runbook::dispatch`), which is the only caller of [`Entry::submit`].
//!
//! Each action works in three stages, so a dry-run shows exactly what will be sent and an
//! interrupted run can pick up where it stopped without sending a write twice:
//! `prepare` reads what the write needs (a fresh `settingsVersion`, an `etag`, the latest
//! backup) and returns the exact [`Request`]s; `submit` sends them and returns the long-running
//! [`Operation`] they started, if any; [`follow`] polls that operation to DONE.
//!
//! Adding an action: write `action/<backend>_<verb>.rs` with a unit struct implementing
//! [`Action`], and add it to [`registry`].

pub mod cloud_run_rollback;
pub mod cloud_run_scale;
pub mod cloud_sql_backup;
pub mod cloud_sql_failover;
pub mod cloud_sql_pitr_clone;
pub mod cloud_sql_restore;
pub mod cloud_tasks_pause;
pub mod cloud_tasks_purge;
pub mod cloud_tasks_resume;
mod context;
pub mod google_op;
pub mod http_request;
pub mod k8s_rollout_restart;
pub mod k8s_scale;
pub mod memorystore_failover;
pub mod rabbitmq_purge;
pub mod redact;
pub mod redis_sentinel_failover;
mod request;
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::estate::Kind;

pub use context::{Clients, Cx, Pace, Progress};
pub use google_op::{Operation, OperationApi, follow};
pub use request::{Request, Shown};

/// Why an action could not do its work, in one sentence for the operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The target or an argument does not fit the action (caught before anything is sent).
    #[error("{0}")]
    Invalid(String),
    /// A read or write was refused or failed; nothing was changed by this request.
    #[error("{0}")]
    Failed(String),
    /// The write was sent and its answer was lost: it may or may not have been applied.
    #[error("{0}")]
    Unknown(String),
    /// The write was accepted and its long-running operation ended in an error.
    #[error("{0}")]
    Operation(String),
}

/// An argument an action takes from a runbook step's `with` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub help: &'static str,
}

/// The type of an action argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Integer,
    Text,
    Bool,
    /// A table of strings (HTTP headers).
    Table,
    /// Any JSON value (an HTTP body).
    Json,
}

/// A step's arguments after parameter substitution.
pub type Args = BTreeMap<String, Value>;

/// What `prepare` found: the exact requests to send, and facts worth recording (the backup
/// chosen, the settings version read).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub requests: Vec<Request>,
    pub facts: BTreeMap<String, Value>,
}

/// What `submit` got back: the operation to follow (for long-running Google writes), and a
/// short word on the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub operation: Option<Operation>,
    pub summary: String,
}

/// One verb. `prepare` may read but never write; `submit` sends exactly `plan.requests`.
pub trait Action: Send + Sync + 'static {
    /// `backend.verb`, as runbook files name it.
    const NAME: &'static str;
    /// One line for `runbook show` and the console.
    const SUMMARY: &'static str;
    /// Asks for typed confirmation on a SEV 1–2 target.
    const DESTRUCTIVE: bool;
    /// Sending it twice does no harm, so an answer lost in transit may be retried by
    /// sending it again; otherwise the outcome is settled by asking the API.
    const IDEMPOTENT: bool;
    /// The kinds of service it acts on.
    const KINDS: &'static [Kind];
    const ARGS: &'static [ArgSpec];

    fn prepare(cx: &Cx<'_>) -> impl Future<Output = Result<Plan, ActionError>> + Send;

    fn submit(
        cx: &Cx<'_>,
        plan: &Plan,
    ) -> impl Future<Output = Result<Submitted, ActionError>> + Send;

    /// After a run stopped between sending and hearing back: what this action's write did
    /// on the target since `since`, when the API can tell (`Ok(None)`: it was not applied,
    /// so sending it is safe). `Err` when it cannot tell.
    fn find_started(
        cx: &Cx<'_>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Option<Submitted>, ActionError>> + Send {
        let _ = (cx, since);
        async {
            Err(ActionError::Unknown(
                "this API cannot tell whether an earlier request was applied".to_string(),
            ))
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A registered action, callable by name.
pub struct Entry {
    pub name: &'static str,
    pub summary: &'static str,
    pub destructive: bool,
    pub idempotent: bool,
    pub kinds: &'static [Kind],
    pub args: &'static [ArgSpec],
    prepare: for<'a> fn(&'a Cx<'a>) -> BoxFuture<'a, Result<Plan, ActionError>>,
    submit: for<'a> fn(&'a Cx<'a>, &'a Plan) -> BoxFuture<'a, Result<Submitted, ActionError>>,
    find_started: FindStarted,
}

/// Looks for an operation this action started since a time (a run resumed after a cut).
type FindStarted = for<'a> fn(
    &'a Cx<'a>,
    chrono::DateTime<chrono::Utc>,
) -> BoxFuture<'a, Result<Option<Submitted>, ActionError>>;

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// Reads what the write needs; returns the exact requests (nothing is changed).
    pub async fn prepare(&self, cx: &Cx<'_>) -> Result<Plan, ActionError> {
        if !self.kinds.contains(&cx.service.kind) {
            return Err(ActionError::Invalid(format!(
                "{} acts on {}, and '{}' is a {} service",
                self.name,
                kinds_text(self.kinds),
                cx.service.id,
                cx.service.kind
            )));
        }
        (self.prepare)(cx).await
    }

    /// Sends the prepared requests. Only the dispatcher calls this, after its checks.
    pub(crate) async fn submit(&self, cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        (self.submit)(cx, plan).await
    }

    /// What an earlier, interrupted submit did, if the API can tell.
    pub async fn find_started(
        &self,
        cx: &Cx<'_>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        (self.find_started)(cx, since).await
    }
}

fn kinds_text(kinds: &[Kind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    names.join(" or ")
}

fn boxed_prepare<'a, A: Action>(cx: &'a Cx<'a>) -> BoxFuture<'a, Result<Plan, ActionError>> {
    Box::pin(A::prepare(cx))
}

fn boxed_submit<'a, A: Action>(
    cx: &'a Cx<'a>,
    plan: &'a Plan,
) -> BoxFuture<'a, Result<Submitted, ActionError>> {
    Box::pin(A::submit(cx, plan))
}

fn boxed_find<'a, A: Action>(
    cx: &'a Cx<'a>,
    since: chrono::DateTime<chrono::Utc>,
) -> BoxFuture<'a, Result<Option<Submitted>, ActionError>> {
    Box::pin(A::find_started(cx, since))
}

fn entry<A: Action>() -> Entry {
    Entry {
        name: A::NAME,
        summary: A::SUMMARY,
        destructive: A::DESTRUCTIVE,
        idempotent: A::IDEMPOTENT,
        kinds: A::KINDS,
        args: A::ARGS,
        prepare: boxed_prepare::<A>,
        submit: boxed_submit::<A>,
        find_started: boxed_find::<A>,
    }
}

static REGISTRY: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    vec![
        entry::<cloud_run_scale::Scale>(),
        entry::<cloud_run_rollback::Rollback>(),
        entry::<cloud_sql_failover::Failover>(),
        entry::<cloud_sql_backup::Backup>(),
        entry::<cloud_sql_restore::Restore>(),
        entry::<cloud_sql_pitr_clone::PitrClone>(),
        entry::<cloud_tasks_pause::Pause>(),
        entry::<cloud_tasks_resume::Resume>(),
        entry::<cloud_tasks_purge::Purge>(),
        entry::<memorystore_failover::Failover>(),
        entry::<k8s_scale::Scale>(),
        entry::<k8s_rollout_restart::RolloutRestart>(),
        entry::<redis_sentinel_failover::SentinelFailover>(),
        entry::<rabbitmq_purge::Purge>(),
        entry::<http_request::HttpRequest>(),
    ]
});

/// Every action, in the order `runbook show` lists them.
pub fn registry() -> &'static [Entry] {
    &REGISTRY
}

/// The action with this name.
pub fn find(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// An argument as an integer within `range`, or the reason it is not one.
pub(crate) fn int_arg(
    args: &Args,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ActionError> {
    let Some(v) = args.get(name) else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ActionError::Invalid(format!("argument '{name}' is {v}, not a whole number")))?;
    if !range.contains(&n) {
        return Err(ActionError::Invalid(format!(
            "argument '{name}' is {n}, outside {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(Some(n))
}

/// An argument as text.
pub(crate) fn text_arg<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>, ActionError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ActionError::Invalid(format!(
            "argument '{name}' is {other}, not text"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for e in registry() {
            assert!(seen.insert(e.name), "{} registered twice", e.name);
            let (backend, verb) = e.name.split_once('.').expect("backend.verb");
            assert!(!backend.is_empty() && !verb.is_empty(), "{}", e.name);
            assert!(
                e.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.' || c.is_ascii_digit()),
                "{}",
                e.name
            );
            assert!(!e.kinds.is_empty(), "{} acts on no kind", e.name);
        }
        assert!(find("cloud_sql.failover").is_some_and(|e| e.destructive && !e.idempotent));
        assert!(find("cloud_sql.nope").is_none());
    }

    #[test]
    fn integer_arguments_are_checked_against_their_range() {
        let mut args = Args::new();
        args.insert("replicas".into(), Value::from("7"));
        assert_eq!(int_arg(&args, "replicas", 0..=100), Ok(Some(7)));
        args.insert("replicas".into(), Value::from(101));
        let e = int_arg(&args, "replicas", 0..=100).expect_err("out of range");
        assert_eq!(
            e.to_string(),
            "argument 'replicas' is 101, outside 0 to 100"
        );
        args.insert("replicas".into(), Value::from("many"));
        assert!(int_arg(&args, "replicas", 0..=100).is_err());
        assert_eq!(int_arg(&args, "absent", 0..=1), Ok(None));
    }
}
