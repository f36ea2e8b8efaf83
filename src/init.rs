//! `opsdeck init`: discover an estate instead of writing it. Lists Cloud Run services,
//! Cloud SQL instances, Cloud Tasks queues and Memorystore instances of the given projects and
//! regions (the same list calls the probes use), Deployments and StatefulSets of the given
//! kube contexts, and adds the given Redis, RabbitMQ and PostgreSQL servers; writes a
//! commented estate file with SEV guesses and leaves the dependency edges to the user.

use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::cli::InitArgs;
use crate::estate::{Gcp, GcpAuth};
use crate::probe::gcp::Google;

/// One discovered service, ready to be written.
struct Found {
    id: String,
    name: String,
    kind: &'static str,
    region: Option<String>,
    sev: u8,
    keys: Vec<(&'static str, String)>,
    note: &'static str,
}

/// Everything discovered, and what could not be listed.
pub struct Discovery {
    pub text: String,
    pub services: usize,
    pub problems: Vec<String>,
}

fn id_of(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn last(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

async fn google(args: &InitArgs, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    if args.projects.is_empty() {
        return;
    }
    let gcp = Gcp {
        project: None,
        endpoint: args.endpoint.clone(),
        auth: args
            .endpoint
            .clone()
            .map_or(GcpAuth::Adc, GcpAuth::Metadata),
    };
    let http = reqwest::Client::new();
    // The probes' own batched lists: every page followed.
    let google = Google::new(http, Some(&gcp));
    let list = |host: &'static str, path: String, field: &'static str| {
        let google = &google;
        async move {
            google
                .list(host, &path, field)
                .await
                .map(|listing| listing.items.clone())
                .map_err(|e| e.sentence(host))
        }
    };
    for project in &args.projects {
        match list(
            "sqladmin.googleapis.com",
            format!("v1/projects/{project}/instances"),
            "items",
        )
        .await
        {
            Ok(items) => {
                for i in items {
                    let name = i
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let region = i.get("region").and_then(Value::as_str).map(str::to_string);
                    found.push(Found {
                        id: id_of(&format!("sql-{name}")),
                        name: format!("Cloud SQL {name}"),
                        kind: "cloud_sql",
                        region: region.filter(|r| args.regions.contains(r)),
                        sev: 1,
                        keys: vec![("instance", name), ("project", project.clone())],
                        note: "a database: everything that writes to it stops",
                    });
                }
            }
            Err(e) => problems.push(e),
        }
        match list(
            "redis.googleapis.com",
            format!("v1/projects/{project}/locations/-/instances"),
            "instances",
        )
        .await
        {
            Ok(items) => {
                for i in items {
                    let full = i.get("name").and_then(Value::as_str).unwrap_or_default();
                    let location = full.split('/').nth(3).unwrap_or_default().to_string();
                    if !args.regions.contains(&location) {
                        problems.push(format!(
                            "Memorystore instance {} is in {location}, which no --region names",
                            last(full)
                        ));
                        continue;
                    }
                    let name = last(full).to_string();
                    found.push(Found {
                        id: id_of(&format!("redis-{name}")),
                        name: format!("Memorystore {name}"),
                        kind: "memorystore",
                        region: Some(location),
                        sev: 3,
                        keys: vec![("instance", name), ("project", project.clone())],
                        note: "a cache: usually degrades the service rather than stopping it",
                    });
                }
            }
            Err(e) => problems.push(e),
        }
        for region in &args.regions {
            match list(
                "run.googleapis.com",
                format!("v2/projects/{project}/locations/{region}/services"),
                "services",
            )
            .await
            {
                Ok(items) => {
                    for i in items {
                        let name = last(i.get("name").and_then(Value::as_str).unwrap_or_default())
                            .to_string();
                        found.push(Found {
                            id: id_of(&format!("run-{name}")),
                            name: format!("Cloud Run {name}"),
                            kind: "cloud_run",
                            region: Some(region.clone()),
                            sev: 1,
                            keys: vec![("service", name), ("project", project.clone())],
                            note: "a serving service",
                        });
                    }
                }
                Err(e) => problems.push(e),
            }
            match list(
                "cloudtasks.googleapis.com",
                format!("v2/projects/{project}/locations/{region}/queues"),
                "queues",
            )
            .await
            {
                Ok(items) => {
                    for i in items {
                        let name = last(i.get("name").and_then(Value::as_str).unwrap_or_default())
                            .to_string();
                        found.push(Found {
                            id: id_of(&format!("tasks-{name}-{region}")),
                            name: format!("Cloud Tasks {name} ({region})"),
                            kind: "cloud_tasks",
                            region: Some(region.clone()),
                            sev: 3,
                            keys: vec![("queue", name), ("project", project.clone())],
                            note: "a queue: set warn_depth / crit_depth to what your workers can drain",
                        });
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
}

async fn kubernetes(args: &InitArgs, found: &mut Vec<Found>, problems: &mut Vec<String>) {
    for context in &args.kube_contexts {
        let options = kube::config::KubeConfigOptions {
            context: Some(context.clone()),
            ..Default::default()
        };
        let config = match &args.kubeconfig {
            Some(path) => match kube::config::Kubeconfig::read_from(path) {
                Ok(kc) => kube::Config::from_custom_kubeconfig(kc, &options).await,
                Err(e) => {
                    problems.push(format!("cannot read kubeconfig '{}': {e}", path.display()));
                    continue;
                }
            },
            None => kube::Config::from_kubeconfig(&options).await,
        };
        let client = match config
            .map_err(|e| e.to_string())
            .and_then(|c| kube::Client::try_from(c).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("kube context '{context}': {e}"));
                continue;
            }
        };
        let deployments: Api<Deployment> = Api::all(client.clone());
        let statefulsets: Api<StatefulSet> = Api::all(client);
        let skip = |ns: &str| ns.starts_with("kube-") || ns == "local-path-storage";
        match deployments.list(&ListParams::default()).await {
            Ok(list) => {
                for d in list.items {
                    let (Some(ns), Some(name)) = (d.metadata.namespace, d.metadata.name) else {
                        continue;
                    };
                    if skip(&ns) {
                        continue;
                    }
                    found.push(Found {
                        id: id_of(&name),
                        name: format!("{name} ({ns})"),
                        kind: "k8s_workload",
                        region: Some(context.clone()),
                        sev: 2,
                        keys: vec![
                            ("namespace", ns),
                            ("workload", format!("deployment/{name}")),
                        ],
                        note: "a Deployment",
                    });
                }
            }
            Err(e) => problems.push(format!(
                "kube context '{context}': cannot list deployments: {e}"
            )),
        }
        match statefulsets.list(&ListParams::default()).await {
            Ok(list) => {
                for s in list.items {
                    let (Some(ns), Some(name)) = (s.metadata.namespace, s.metadata.name) else {
                        continue;
                    };
                    if skip(&ns) {
                        continue;
                    }
                    found.push(Found {
                        id: id_of(&name),
                        name: format!("{name} ({ns})"),
                        kind: "k8s_workload",
                        region: Some(context.clone()),
                        sev: 2,
                        keys: vec![("namespace", ns), ("workload", format!("statefulset/{name}"))],
                        note: "a StatefulSet: often a data store; raise to SEV 1 if everything needs it",
                    });
                }
            }
            Err(e) => problems.push(format!(
                "kube context '{context}': cannot list statefulsets: {e}"
            )),
        }
    }
}

fn direct(args: &InitArgs, found: &mut Vec<Found>) {
    for (i, url) in args.redis.iter().enumerate() {
        found.push(Found {
            id: format!("redis-{}", i + 1),
            name: format!("Redis {}", i + 1),
            kind: "redis",
            region: None,
            sev: 2,
            keys: vec![("url", url.clone())],
            note: "add password_env = \"NAME\" if it needs a password",
        });
    }
    for (i, url) in args.rabbitmq.iter().enumerate() {
        found.push(Found {
            id: format!("rabbitmq-{}", i + 1),
            name: format!("RabbitMQ {} (a queue)", i + 1),
            kind: "rabbitmq_queue",
            region: None,
            sev: 3,
            keys: vec![("url", url.clone()), ("queue", "CHANGE-ME".to_string())],
            note: "name the queue to watch; add one service per queue, dead-letter queues too",
        });
    }
    for (i, url) in args.postgres.iter().enumerate() {
        found.push(Found {
            id: format!("postgres-{}", i + 1),
            name: format!("PostgreSQL {}", i + 1),
            kind: "postgres",
            region: None,
            sev: 1,
            keys: vec![("url", url.clone())],
            note: "add password_env = \"NAME\" if it needs a password",
        });
    }
}

/// Discovers what the arguments name and renders the estate file.
pub async fn discover(args: &InitArgs) -> Discovery {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    google(args, &mut found, &mut problems).await;
    kubernetes(args, &mut found, &mut problems).await;
    direct(args, &mut found);
    // Ids must be unique: suffix repeats.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for f in &mut found {
        let n = seen.entry(f.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            f.id = format!("{}-{n}", f.id);
        }
    }
    Discovery {
        text: render(args, &found, &problems),
        services: found.len(),
        problems,
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn render(args: &InitArgs, found: &[Found], problems: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Discovered by `opsdeck init`. Review every SEV: they are guesses from the resource type"
    );
    let _ = writeln!(
        out,
        "# (1 = the whole platform is down … 4 = minor). Then add what depends on what, e.g."
    );
    let _ = writeln!(
        out,
        "#   depends_on = [{{ id = \"sql-main\" }}, {{ id = \"cache\", fallback = \"serves without cache\" }}]"
    );
    let _ = writeln!(out, "# and check it with `opsdeck check`.");
    for p in problems {
        let _ = writeln!(out, "# Not listed: {}", p.replace('\n', " "));
    }
    let _ = writeln!(out, "name = {}", quote(&args.name));
    let _ = writeln!(out, "environment = \"prod\"");
    if let Some(path) = &args.kubeconfig {
        let _ = writeln!(out, "kubeconfig = {}", quote(&path.to_string_lossy()));
    }
    if let Some(project) = args.projects.first() {
        let _ = writeln!(out, "\n[gcp]\nproject = {}", quote(project));
        if let Some(e) = &args.endpoint {
            let _ = writeln!(
                out,
                "endpoint = {}\nmetadata_endpoint = {}",
                quote(e),
                quote(e)
            );
        }
    }
    for region in &args.regions {
        let _ = writeln!(
            out,
            "\n[[region]]\nid = {}\ngcp_region = {}",
            quote(region),
            quote(region)
        );
    }
    for context in &args.kube_contexts {
        let _ = writeln!(
            out,
            "\n[[region]]\nid = {}\nkube_context = {}",
            quote(context),
            quote(context)
        );
    }
    for f in found {
        let _ = writeln!(out, "\n[[service]]\n# {}", f.note);
        let _ = writeln!(
            out,
            "id = {}\nname = {}\nkind = \"{}\"",
            quote(&f.id),
            quote(&f.name),
            f.kind
        );
        if let Some(r) = &f.region {
            let _ = writeln!(out, "region = {}", quote(r));
        }
        for (k, v) in &f.keys {
            let _ = writeln!(out, "{k} = {}", quote(v));
        }
        let _ = writeln!(out, "sev = {}", f.sev);
    }
    out
}
