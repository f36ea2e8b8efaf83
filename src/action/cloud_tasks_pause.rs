//! `cloud_tasks.pause`: pauses a Cloud Tasks queue. Tasks stay in the queue and none is dispatched
//! until it is resumed; a paused queue still accepts new tasks.

use super::support::{queue_verb_plan, queue_verb_submit};
use super::{Action, ActionError, ArgSpec, Cx, Plan, Submitted};
use crate::estate::Kind;

pub struct Pause;

impl Action for Pause {
    const NAME: &'static str = "cloud_tasks.pause";
    const SUMMARY: &'static str =
        "Pause a Cloud Tasks queue: tasks stay queued and are not dispatched (POST …:pause)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = true;
    const KINDS: &'static [Kind] = &[Kind::CloudTasks];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        queue_verb_plan(cx, "pause")
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        queue_verb_submit(cx, plan).await
    }
}
