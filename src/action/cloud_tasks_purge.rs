//! `cloud_tasks.purge`: deletes every task in a Cloud Tasks queue (tasks created before the
//! purge; it can take up to a minute to take effect). Nothing purged can be got back.

use super::support::{queue_verb_plan, queue_verb_submit};
use super::{Action, ActionError, ArgSpec, Cx, Plan, Submitted};
use crate::estate::Kind;

pub struct Purge;

impl Action for Purge {
    const NAME: &'static str = "cloud_tasks.purge";
    const SUMMARY: &'static str = "Delete every task in a Cloud Tasks queue (POST …:purge)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::CloudTasks];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        queue_verb_plan(cx, "purge")
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        queue_verb_submit(cx, plan).await
    }
}
