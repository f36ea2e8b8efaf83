//! Finding simulated Kubernetes objects: every object of a kind in a namespace (or all), their
//! keys in list order (so a list renders only the page it serves), and one object by name.
//! Pure.

use serde_json::Value;

use super::objects::{self, event, hpa, node, pod, replica_sets, workload};
use super::store::{KubeCluster, Res};

/// Every object of one kind in one namespace (or all), in namespace and name order.
pub(crate) fn all(c: &KubeCluster, res: Res, namespace: Option<&str>) -> Vec<Value> {
    let in_ns = |ns: &str| namespace.is_none_or(|n| n == ns);
    let mut out: Vec<Value> = match res {
        Res::Namespace => c
            .namespaces
            .keys()
            .map(|n| objects::namespace(c, n))
            .collect(),
        Res::Node => (0..c.nodes.len()).map(|i| node(c, i)).collect(),
        Res::Pod => c
            .pods
            .iter()
            .filter(|((ns, _), _)| in_ns(ns))
            .map(|(_, p)| pod(c, p))
            .collect(),
        Res::Event => c
            .events
            .iter()
            .filter(|((ns, _), _)| in_ns(ns))
            .map(|(_, e)| event(c, e))
            .collect(),
        Res::Lease => c
            .leases
            .iter()
            .filter(|((ns, _), _)| in_ns(ns))
            .map(|(_, l)| l.clone())
            .collect(),
        Res::Hpa => (0..c.workloads.len())
            .filter(|i| in_ns(&c.workloads[*i].namespace))
            .filter_map(|i| hpa(c, i))
            .collect(),
        Res::ReplicaSet => (0..c.workloads.len())
            .filter(|i| in_ns(&c.workloads[*i].namespace))
            .flat_map(|i| replica_sets(c, i))
            .collect(),
        Res::Deployment | Res::StatefulSet | Res::DaemonSet => (0..c.workloads.len())
            .filter(|i| c.workloads[*i].res() == res && in_ns(&c.workloads[*i].namespace))
            .map(|i| workload(c, i))
            .collect(),
    };
    if matches!(
        res,
        Res::Deployment | Res::StatefulSet | Res::DaemonSet | Res::Hpa | Res::ReplicaSet
    ) {
        out.sort_by(|a, b| {
            let key = |v: &Value| {
                (
                    v["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    v["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
    }
    out
}

/// The namespace and name of every object of one kind in one namespace (or all), in order:
/// lists render only the page they serve.
pub(crate) fn keys(c: &KubeCluster, res: Res, namespace: Option<&str>) -> Vec<(String, String)> {
    let in_ns = |ns: &str| namespace.is_none_or(|n| n == ns);
    match res {
        Res::Pod => c.pods.keys().filter(|(ns, _)| in_ns(ns)).cloned().collect(),
        Res::Event => c
            .events
            .keys()
            .filter(|(ns, _)| in_ns(ns))
            .cloned()
            .collect(),
        Res::Lease => c
            .leases
            .keys()
            .filter(|(ns, _)| in_ns(ns))
            .cloned()
            .collect(),
        _ => all(c, res, namespace)
            .iter()
            .map(|v| {
                let text = |k: &str| v["metadata"][k].as_str().unwrap_or_default().to_string();
                (text("namespace"), text("name"))
            })
            .collect(),
    }
}

/// One object by name.
pub(crate) fn one(c: &KubeCluster, res: Res, namespace: &str, name: &str) -> Option<Value> {
    let key = (namespace.to_string(), name.to_string());
    match res {
        Res::Namespace => c
            .namespaces
            .contains_key(name)
            .then(|| objects::namespace(c, name)),
        Res::Node => c.nodes.iter().position(|n| n == name).map(|i| node(c, i)),
        Res::Pod => c.pods.get(&key).map(|p| pod(c, p)),
        Res::Event => c.events.get(&key).map(|e| event(c, e)),
        Res::Lease => c.leases.get(&key).cloned(),
        Res::Hpa => c.hpa_names.get(&key).and_then(|i| hpa(c, *i)),
        Res::ReplicaSet => all(c, res, Some(namespace))
            .into_iter()
            .find(|v| v["metadata"]["name"] == name),
        Res::Deployment | Res::StatefulSet | Res::DaemonSet => {
            c.workload(res, namespace, name).map(|i| workload(c, i))
        }
    }
}
