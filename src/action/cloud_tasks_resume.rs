//! `cloud_tasks.resume`: resumes a paused Cloud Tasks queue; dispatching starts again at the
//! queue's rate limits.

use super::support::{queue_verb_plan, queue_verb_submit};
use super::{Action, ActionError, ArgSpec, Cx, Plan, Submitted};
use crate::estate::Kind;

pub struct Resume;

impl Action for Resume {
    const NAME: &'static str = "cloud_tasks.resume";
    const SUMMARY: &'static str = "Resume a paused Cloud Tasks queue (POST …:resume)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = true;
    const KINDS: &'static [Kind] = &[Kind::CloudTasks];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        queue_verb_plan(cx, "resume")
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        queue_verb_submit(cx, plan).await
    }
}
