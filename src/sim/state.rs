//! The simulator's world: every simulated Google resource and `http` endpoint, materialised from
//! the estate, and the scenario timeline applied to them as the scenario clock passes. Pure: no
//! IO, no async; the server locks it for the length of one lookup.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::patch::{Vars, expand, set_path};
use super::resources::{self, Clock};
use super::scenario::Scenario;
use crate::estate::{Estate, Target};

/// Which Google API serves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    CloudSql,
    CloudRun,
    Memorystore,
    CloudTasks,
    /// A `gcp_rest` resource, served at its URL's path.
    Rest,
}

/// One simulated Google resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub api: Api,
    pub project: String,
    pub location: String,
    /// The short id: instance, service or queue name, or the last segment of a REST path.
    pub id: String,
    /// For `Rest`: the URL path it is served at.
    pub path: String,
    pub body: Value,
}

/// How the simulator answers an `http` service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpEndpoint {
    pub status: u16,
    /// Never answer (until the simulator stops).
    pub hang: bool,
    /// Wall-clock delay before answering.
    pub latency: Duration,
    /// What a healthy endpoint answers.
    pub body: Value,
    /// What the scenario set as the answer, whatever the status.
    pub custom_body: Option<Value>,
}

impl HttpEndpoint {
    /// The body to answer with: the scenario's, else the healthy one for a success status,
    /// else a short error.
    pub fn answer_body(&self) -> Value {
        match &self.custom_body {
            Some(body) => body.clone(),
            None if self.status < 400 => self.body.clone(),
            None => json!({"status": "error", "code": self.status}),
        }
    }
}

/// What an event changes.
#[derive(Debug, Clone)]
enum Slot {
    Resource(usize),
    Http(String),
}

#[derive(Debug, Clone)]
struct Step {
    at: Duration,
    /// Each with the estate id of the service it came from (for `${service}`).
    slots: Vec<(Slot, String)>,
    set: Vec<(String, Value)>,
}

/// All simulated state.
#[derive(Debug)]
pub(crate) struct World {
    pub resources: Vec<Resource>,
    /// By estate service id.
    pub http: BTreeMap<String, HttpEndpoint>,
    /// The project the metadata server reports.
    pub project: String,
    pub scenario: Option<String>,
    steps: Vec<Step>,
    applied: usize,
}

impl World {
    pub fn new(estate: &Estate, scenario: Option<&Scenario>, clock: &Clock) -> World {
        let mut world = World {
            resources: Vec::new(),
            http: BTreeMap::new(),
            project: default_project(estate),
            scenario: scenario.map(|s| s.name.clone()),
            steps: Vec::new(),
            applied: 0,
        };
        let mut slots: BTreeMap<&str, Slot> = BTreeMap::new();
        for service in &estate.services {
            let region = service
                .region
                .as_deref()
                .and_then(|r| estate.region(r))
                .and_then(|r| r.gcp_region.clone())
                .unwrap_or_else(|| "europe-west1".to_string());
            let resource = match &service.target {
                Target::CloudSql { project, instance } => Some(Resource {
                    api: Api::CloudSql,
                    project: project.clone(),
                    location: region.clone(),
                    id: instance.clone(),
                    path: String::new(),
                    body: resources::cloud_sql_instance(clock, project, &region, instance),
                }),
                Target::CloudRun {
                    project,
                    location,
                    service: name,
                } => Some(Resource {
                    api: Api::CloudRun,
                    project: project.clone(),
                    location: location.clone(),
                    id: name.clone(),
                    path: String::new(),
                    body: resources::cloud_run_service(clock, project, location, name),
                }),
                Target::Memorystore {
                    project,
                    location,
                    instance,
                } => Some(Resource {
                    api: Api::Memorystore,
                    project: project.clone(),
                    location: location.clone(),
                    id: instance.clone(),
                    path: String::new(),
                    body: resources::memorystore_instance(clock, project, location, instance),
                }),
                Target::CloudTasks {
                    project,
                    location,
                    queue,
                    ..
                } => Some(Resource {
                    api: Api::CloudTasks,
                    project: project.clone(),
                    location: location.clone(),
                    id: queue.clone(),
                    path: String::new(),
                    body: resources::cloud_tasks_queue(project, location, queue),
                }),
                Target::GcpRest { url, .. } => {
                    let (host, path) = split_url(url);
                    let name = resource_name(&path);
                    let segments: Vec<&str> = name.split('/').collect();
                    let after = |c: &str| {
                        segments
                            .iter()
                            .position(|s| *s == c)
                            .and_then(|i| segments.get(i + 1))
                            .map_or_else(String::new, |s| (*s).to_string())
                    };
                    Some(Resource {
                        api: Api::Rest,
                        project: after("projects"),
                        location: after("locations"),
                        id: segments
                            .last()
                            .map_or_else(String::new, |s| (*s).to_string()),
                        body: resources::rest_resource(clock, host, &path, &name, &region),
                        path,
                    })
                }
                Target::Http { url, .. } => {
                    world.http.insert(
                        service.id.clone(),
                        HttpEndpoint {
                            status: 200,
                            hang: false,
                            latency: Duration::ZERO,
                            body: default_http_body(url, clock.now),
                            custom_body: None,
                        },
                    );
                    slots.insert(&service.id, Slot::Http(service.id.clone()));
                    None
                }
                _ => None,
            };
            if let Some(resource) = resource {
                let existing = world.resources.iter().position(|r| {
                    r.api == resource.api
                        && r.project == resource.project
                        && r.location == resource.location
                        && r.id == resource.id
                        && r.path == resource.path
                });
                let index = existing.unwrap_or_else(|| {
                    world.resources.push(resource);
                    world.resources.len() - 1
                });
                slots.insert(&service.id, Slot::Resource(index));
            }
        }

        if let Some(scenario) = scenario {
            let mut events: Vec<_> = scenario.events.iter().collect();
            events.sort_by_key(|e| e.at);
            for event in events {
                let targets = estate
                    .services
                    .iter()
                    .filter(|s| event.matches(s))
                    .filter_map(|s| {
                        slots
                            .get(s.id.as_str())
                            .map(|slot| (slot.clone(), s.id.clone()))
                    })
                    .collect();
                world.steps.push(Step {
                    at: event.at,
                    slots: targets,
                    set: event.set.clone(),
                });
            }
        }
        world
    }

    /// Applies every event due by `elapsed` on the scenario clock.
    pub fn advance(&mut self, elapsed: Duration, now: DateTime<Utc>) {
        while let Some(step) = self.steps.get(self.applied) {
            if step.at > elapsed {
                break;
            }
            let step = step.clone();
            self.applied += 1;
            for (slot, service) in &step.slots {
                match slot {
                    Slot::Resource(i) => {
                        if let Some(r) = self.resources.get_mut(*i) {
                            let before = r.body.clone();
                            let vars = Vars {
                                id: &r.id,
                                project: &r.project,
                                location: &r.location,
                                service,
                                now,
                            };
                            for (path, value) in &step.set {
                                set_path(&mut r.body, path, expand(value, &before, &vars));
                            }
                        }
                    }
                    Slot::Http(id) => {
                        if let Some(endpoint) = self.http.get_mut(id) {
                            for (key, value) in &step.set {
                                apply_http(endpoint, key, value);
                            }
                        }
                    }
                }
            }
        }
    }

    /// How many scenario events have happened, and how many there are.
    pub fn progress(&self) -> (usize, usize) {
        (self.applied, self.steps.len())
    }

    pub fn find(
        &self,
        api: Api,
        project: &str,
        location: Option<&str>,
        id: &str,
    ) -> Option<&Resource> {
        self.resources.iter().find(|r| {
            r.api == api
                && r.project == project
                && location.is_none_or(|l| l == r.location)
                && r.id == id
        })
    }

    /// The `gcp_rest` resource served at this path.
    pub fn rest(&self, path: &str) -> Option<&Resource> {
        let path = path.trim_end_matches('/');
        self.resources
            .iter()
            .find(|r| r.api == Api::Rest && r.path.trim_end_matches('/') == path)
    }

    /// Every resource of one API in a project, and in one location unless `location` is `-`.
    pub fn list<'w>(
        &'w self,
        api: Api,
        project: &'w str,
        location: Option<&'w str>,
    ) -> impl Iterator<Item = &'w Resource> {
        self.resources.iter().filter(move |r| {
            r.api == api
                && r.project == project
                && location.is_none_or(|l| l == "-" || l == r.location)
        })
    }
}

fn apply_http(endpoint: &mut HttpEndpoint, key: &str, value: &Value) {
    match key {
        "status" => {
            if let Some(s) = value.as_u64().and_then(|s| u16::try_from(s).ok()) {
                endpoint.status = s;
            }
        }
        "hang" => endpoint.hang = value.as_bool().unwrap_or(endpoint.hang),
        "latency" => {
            if let Some(Ok(d)) = value.as_str().map(humantime::parse_duration) {
                endpoint.latency = d;
            }
        }
        "body" => endpoint.custom_body = Some(value.clone()),
        _ => {}
    }
}

/// The project the metadata server answers with: `[gcp] project`, else the first Google
/// service's, else a placeholder.
fn default_project(estate: &Estate) -> String {
    if let Some(p) = estate.gcp.as_ref().and_then(|g| g.project.clone()) {
        return p;
    }
    estate
        .services
        .iter()
        .find_map(|s| match &s.target {
            Target::CloudSql { project, .. }
            | Target::CloudRun { project, .. }
            | Target::Memorystore { project, .. }
            | Target::CloudTasks { project, .. }
            | Target::PubsubSubscription { project, .. } => Some(project.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "sim-project".to_string())
}

/// What a healthy `http` service answers: a Statuspage summary for Statuspage URLs (their
/// conditions read `status.indicator`), else `{"status":"ok"}`.
fn default_http_body(url: &str, now: DateTime<Utc>) -> Value {
    let (host, path) = split_url(url);
    if path.ends_with("/api/v2/status.json") || path.ends_with("/api/v2/summary.json") {
        json!({
            "page": {
                "id": format!("{:012x}", resources::stable_hash(host) & 0xffff_ffff_ffff),
                "name": host,
                "url": format!("https://{host}"),
                "time_zone": "Etc/UTC",
                "updated_at": now.to_rfc3339_opts(SecondsFormat::Millis, true)
            },
            "status": {"indicator": "none", "description": "All Systems Operational"}
        })
    } else {
        json!({"status": "ok"})
    }
}

/// The host (without port or user) and path (without query) of a URL; `/` when it has none.
pub(crate) fn split_url(url: &str) -> (&str, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next().unwrap_or(host);
    let path = &rest[end..];
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    (host, path)
}

/// A REST path without its version prefix: `/v1/projects/p/x` → `projects/p/x`,
/// `/storage/v1/b/x` → `b/x`.
pub(crate) fn resource_name(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let version = segments.iter().position(|s| is_version(s));
    match version {
        Some(i) if i <= 1 => segments[i + 1..].join("/"),
        _ => segments.join("/"),
    }
}

fn is_version(segment: &str) -> bool {
    let mut chars = segment.chars();
    chars.next() == Some('v') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://cloudkms.googleapis.com/v1/projects/p?x=1"),
            ("cloudkms.googleapis.com", "/v1/projects/p".to_string())
        );
        assert_eq!(
            split_url("https://u:p@h.example:8443"),
            ("h.example", "/".to_string())
        );
        assert_eq!(
            resource_name("/v1/projects/p/secrets/s"),
            "projects/p/secrets/s"
        );
        assert_eq!(resource_name("/storage/v1/b/bk"), "b/bk");
        assert_eq!(resource_name("/sql/v1beta4/projects/p"), "projects/p");
    }
}
