//! What `check`, `wait`, `when` and `applies_to.when` conditions read: a JSON view of the
//! target service from a fresh snapshot — the service as `--once --json` shows it (`status`,
//! `sev`, `impacted_by`, `metrics`…, and for a queue its figures under `queue`), with its
//! metrics also at the top (`target.availability` as well as `target.metrics.availability`) —
//! and the run's parameters under `params`.
//! The live view comes from probing the target and everything it depends on.

use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Map, Value};

use super::params::Params;
use crate::estate::Estate;
use crate::model::{Model, ProbeReport, ServiceView};
use crate::probe::{self, ProbeContext};

/// Something that can look at the target now.
pub trait Observe: Send + Sync {
    /// The target as a fresh snapshot shows it (`ServiceView` JSON); `Err` says why it could
    /// not be had.
    fn target(&self) -> impl Future<Output = Result<Value, String>> + Send;
}

/// The document a condition is evaluated on.
pub fn document(target: &Value, params: &Params) -> Value {
    let mut t = target.clone();
    if let Value::Object(map) = &mut t
        && let Some(Value::Object(metrics)) = map.get("metrics").cloned()
    {
        for (k, v) in metrics {
            map.entry(k).or_insert(v);
        }
    }
    let mut doc = Map::new();
    doc.insert("target".to_string(), t);
    doc.insert(
        "params".to_string(),
        Value::Object(params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    );
    Value::Object(doc)
}

/// A service view as JSON.
pub fn service_json(view: &ServiceView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

/// Probes the target and everything it depends on (so `impacted_by` is right), with one set
/// of clients kept for the whole run.
pub struct LiveObserver {
    estate: Arc<Estate>,
    ctx: ProbeContext,
    target: String,
    /// The target and its dependencies, transitively (estate indexes).
    scope: Vec<usize>,
}

impl LiveObserver {
    pub fn new(estate: Arc<Estate>, target: &str) -> LiveObserver {
        let ctx = ProbeContext::new(&estate);
        let mut scope = Vec::new();
        let mut todo = vec![target.to_string()];
        while let Some(id) = todo.pop() {
            let Some(i) = estate.index_of(&id) else {
                continue;
            };
            if scope.contains(&i) {
                continue;
            }
            scope.push(i);
            todo.extend(estate.services[i].depends_on.iter().map(|d| d.id.clone()));
        }
        LiveObserver {
            estate,
            ctx,
            target: target.to_string(),
            scope,
        }
    }
}

impl Observe for LiveObserver {
    async fn target(&self) -> Result<Value, String> {
        let fresh = self.ctx.fresh();
        let probes = self.scope.iter().map(|&i| {
            let service = &self.estate.services[i];
            let ctx = &fresh;
            async move {
                let outcome = probe::run(ctx, service).await;
                ProbeReport {
                    service: i,
                    at: Utc::now(),
                    outcome,
                }
            }
        });
        let reports = futures::future::join_all(probes).await;
        let mut model = Model::new(Arc::clone(&self.estate));
        for r in reports {
            model.apply(r);
        }
        let snapshot = model.snapshot(Utc::now());
        let mut view = snapshot
            .service(&self.target)
            .map(service_json)
            .ok_or_else(|| format!("'{}' is not a service of the estate", self.target))?;
        if let (Value::Object(map), Some(q)) = (
            &mut view,
            snapshot.queues.iter().find(|q| q.service == self.target),
        ) {
            map.insert(
                "queue".to_string(),
                serde_json::to_value(q).unwrap_or(Value::Null),
            );
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metrics_are_readable_at_the_top_and_under_metrics() {
        let target = json!({"id": "sql", "status": "up", "metrics": {"availability": "REGIONAL", "status": "x"}});
        let mut params = Params::new();
        params.insert("replicas".into(), json!(3));
        let doc = document(&target, &params);
        let c = crate::condition::Condition::parse(
            r#"target.availability == "REGIONAL" && target.metrics.availability == "REGIONAL" && target.status == "up" && params.replicas == 3"#,
        )
        .expect("parses");
        assert!(c.eval(&doc));
    }
}
