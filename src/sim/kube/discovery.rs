//! What the simulated API server says about itself: /version, the legacy discovery documents
//! (/api, /apis, /api/v1, /apis/GROUP/VERSION) and the catalogue of resources they describe,
//! which the router also uses to resolve a path to a resource. Pure.

use serde_json::{Value, json};

use super::store::Res;

/// One servable resource.
pub(crate) struct ApiResource {
    pub res: Res,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// Subresources: (name, kind, group, version, verbs).
    pub subs: &'static [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    )],
}

const READ: &[&str] = &["get", "list", "watch"];
const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUB: &[&str] = &["get", "patch", "update"];

pub(crate) const KINDS: &[ApiResource] = &[
    ApiResource {
        res: Res::Namespace,
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short: &["ns"],
        verbs: READ,
        subs: &[],
    },
    ApiResource {
        res: Res::Node,
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short: &["no"],
        verbs: READ,
        subs: &[],
    },
    ApiResource {
        res: Res::Pod,
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short: &["po"],
        verbs: &["delete", "get", "list", "watch"],
        subs: &[("status", "Pod", "", "v1", &["get"])],
    },
    ApiResource {
        res: Res::Event,
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short: &["ev"],
        verbs: READ,
        subs: &[],
    },
    ApiResource {
        res: Res::Deployment,
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short: &["deploy"],
        verbs: &["get", "list", "patch", "update", "watch"],
        subs: &[
            ("scale", "Scale", "autoscaling", "v1", SUB),
            ("status", "Deployment", "", "", &["get"]),
        ],
    },
    ApiResource {
        res: Res::StatefulSet,
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        short: &["sts"],
        verbs: &["get", "list", "patch", "update", "watch"],
        subs: &[
            ("scale", "Scale", "autoscaling", "v1", SUB),
            ("status", "StatefulSet", "", "", &["get"]),
        ],
    },
    ApiResource {
        res: Res::DaemonSet,
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        short: &["ds"],
        verbs: &["get", "list", "patch", "update", "watch"],
        subs: &[("status", "DaemonSet", "", "", &["get"])],
    },
    ApiResource {
        res: Res::ReplicaSet,
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        namespaced: true,
        short: &["rs"],
        verbs: &["get", "list"],
        subs: &[],
    },
    ApiResource {
        res: Res::Hpa,
        group: "autoscaling",
        version: "v2",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
        short: &["hpa"],
        verbs: READ,
        subs: &[],
    },
    ApiResource {
        res: Res::Lease,
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short: &[],
        verbs: ALL,
        subs: &[],
    },
];

const CATEGORIES_ALL: &[Res] = &[
    Res::Pod,
    Res::Deployment,
    Res::StatefulSet,
    Res::DaemonSet,
    Res::ReplicaSet,
    Res::Hpa,
];

pub(crate) fn kind_of(res: Res) -> &'static ApiResource {
    KINDS.iter().find(|k| k.res == res).unwrap_or(&KINDS[0])
}

/// The resource a path names, if the group and version serve it.
pub(crate) fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ApiResource> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// `plural.group` as error messages write it (`deployments.apps`, `pods`).
pub(crate) fn qualified(kind: &ApiResource) -> String {
    if kind.group.is_empty() {
        kind.plural.to_string()
    } else {
        format!("{}.{}", kind.plural, kind.group)
    }
}

pub(crate) fn api_version(kind: &ApiResource) -> String {
    if kind.group.is_empty() {
        kind.version.to_string()
    } else {
        format!("{}/{}", kind.group, kind.version)
    }
}

pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.1",
        "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828", "gitTreeState": "clean",
        "buildDate": "2025-05-15T08:19:08Z", "goVersion": "go1.24.2", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

fn group(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"name": name, "versions": [gv], "preferredVersion": gv})
}

pub(crate) fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(|(g, v)| group(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`, if the simulator serves the group.
pub(crate) fn api_group(name: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == name)?;
    let mut doc = group(g, v);
    doc["kind"] = "APIGroup".into();
    doc["apiVersion"] = "v1".into();
    Some(doc)
}

/// The APIResourceList of one group version (`""` is the core group).
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for k in KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let mut r = json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced,
            "kind": k.kind, "verbs": k.verbs,
        });
        if !k.short.is_empty() {
            r["shortNames"] = json!(k.short);
        }
        if CATEGORIES_ALL.contains(&k.res) {
            r["categories"] = json!(["all"]);
        }
        resources.push(r);
        for (sub, kind, g, v, verbs) in k.subs {
            let mut s = json!({"name": format!("{}/{sub}", k.plural), "singularName": "", "namespaced": k.namespaced, "kind": kind, "verbs": verbs});
            if !g.is_empty() {
                s["group"] = (*g).into();
                s["version"] = (*v).into();
            }
            resources.push(s);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_names_every_group_the_issue_needs() {
        let list = group_list();
        let names: Vec<&str> = list["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(names, vec!["apps", "autoscaling", "coordination.k8s.io"]);
        assert!(resource_list("", "v1").is_some());
        assert!(resource_list("autoscaling", "v2").is_some());
        assert!(resource_list("autoscaling", "v1").is_none());
        let apps = resource_list("apps", "v1").expect("apps");
        assert!(
            apps["resources"]
                .as_array()
                .expect("list")
                .iter()
                .any(|r| r["name"] == "deployments/scale" && r["group"] == "autoscaling")
        );
        assert_eq!(
            lookup("apps", "v1", "deployments").map(|k| k.res),
            Some(Res::Deployment)
        );
        assert_eq!(qualified(kind_of(Res::Lease)), "leases.coordination.k8s.io");
    }
}
