//! Materialising the world from an estate: one shared resource per Google resource the
//! estate names (however many services name it), with the children the real APIs hold beside
//! it (a service's revision, an instance's backup runs), and the scenario's events resolved
//! to the resources they change.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Api, HttpEndpoint, Resource, Slot, Step, World};
use crate::estate::{Estate, Target};
use crate::sim::backlog::Backlog;
use crate::sim::google;
use crate::sim::knobs::Knobs;
use crate::sim::resources::{self, Clock};
use crate::sim::scenario::Scenario;

/// Automated backups kept per Cloud SQL instance (one a day).
const BACKUPS_KEPT: i64 = 7;

impl World {
    pub fn new(estate: &Estate, scenario: Option<&Scenario>, clock: &Clock) -> World {
        let mut world = World {
            project: default_project(estate),
            scenario: scenario.map(|s| s.name.clone()),
            wall: clock.now,
            ..World::default()
        };
        let mut slots: BTreeMap<&str, Slot> = BTreeMap::new();
        for service in &estate.services {
            let region = service
                .region
                .as_deref()
                .and_then(|r| estate.region(r))
                .and_then(|r| r.gcp_region.clone())
                .unwrap_or_else(|| "europe-west1".to_string());
            if let Target::Http { url, .. } = &service.target {
                world.http.insert(
                    service.id.clone(),
                    HttpEndpoint {
                        status: 200,
                        hang: false,
                        reset: false,
                        latency: Duration::ZERO,
                        body: default_http_body(url, clock.now),
                        custom_body: None,
                    },
                );
                slots.insert(&service.id, Slot::Http(service.id.clone()));
                continue;
            }
            let Some(resource) = resource_for(&service.target, &region, clock) else {
                continue;
            };
            let existing = world
                .find(
                    resource.api,
                    &resource.project,
                    Some(&resource.location),
                    &resource.id,
                )
                .filter(|i| world.resources[*i].path == resource.path);
            let index = match existing {
                Some(i) => i,
                None => world.add_with_children(resource, clock),
            };
            slots.insert(&service.id, Slot::Resource(index));
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
                    unset: event.unset.clone(),
                });
            }
        }
        world
    }

    /// Adds a resource with the children the real API keeps beside it.
    fn add_with_children(&mut self, resource: Resource, clock: &Clock) -> usize {
        let api = resource.api;
        let index = self.add(resource);
        let r = &self.resources[index];
        let (project, location, body) = (r.project.clone(), r.location.clone(), r.body.clone());
        match api {
            Api::CloudRun => {
                if let Some(name) = body.get("latestReadyRevision").and_then(Value::as_str) {
                    let revision =
                        google::cloud_run::revision_body(&body, name, &body["updateTime"], true);
                    let short = name.rsplit('/').next().unwrap_or(name).to_string();
                    self.add(child(
                        Api::RunRevision,
                        &project,
                        &location,
                        short,
                        revision,
                        index,
                    ));
                }
            }
            Api::CloudSql => {
                for day in (1..=BACKUPS_KEPT).rev() {
                    let start = backup_window(clock.now, day);
                    let run = google::sql_backups::backup_run_body(
                        &body,
                        &project,
                        start,
                        "AUTOMATED",
                        "SUCCESSFUL",
                        Some(start + chrono::Duration::seconds(250 + (day * 13) % 60)),
                    );
                    let run_id = run["id"].as_str().unwrap_or_default().to_string();
                    self.add(child(
                        Api::SqlBackupRun,
                        &project,
                        &location,
                        run_id,
                        run,
                        index,
                    ));
                }
            }
            _ => {}
        }
        index
    }
}

/// The moment of the automated backup `days_ago` days back: 03:00 UTC, plus a few
/// milliseconds so ids look like the real ones.
pub(crate) fn backup_window(now: DateTime<Utc>, days_ago: i64) -> DateTime<Utc> {
    let day = (now - chrono::Duration::days(days_ago)).date_naive();
    let three = day
        .and_hms_milli_opt(3, 0, 0, 123)
        .map_or(now, |t| t.and_utc());
    three + chrono::Duration::milliseconds(days_ago * 7)
}

fn child(
    api: Api,
    project: &str,
    location: &str,
    id: String,
    body: Value,
    parent: usize,
) -> Resource {
    Resource {
        api,
        project: project.to_string(),
        location: location.to_string(),
        id,
        path: String::new(),
        body,
        knobs: Knobs::default(),
        parent: Some(parent),
    }
}

/// The resource a service's target names, in its healthy starting shape.
fn resource_for(target: &Target, region: &str, clock: &Clock) -> Option<Resource> {
    let plain = |api: Api, project: &str, location: &str, id: &str, body: Value| Resource {
        api,
        project: project.to_string(),
        location: location.to_string(),
        id: id.to_string(),
        path: String::new(),
        body,
        knobs: Knobs::default(),
        parent: None,
    };
    Some(match target {
        Target::CloudSql { project, instance } => plain(
            Api::CloudSql,
            project,
            region,
            instance,
            resources::cloud_sql_instance(clock, project, region, instance),
        ),
        Target::CloudRun {
            project,
            location,
            service,
        } => plain(
            Api::CloudRun,
            project,
            location,
            service,
            resources::cloud_run_service(clock, project, location, service),
        ),
        Target::Memorystore {
            project,
            location,
            instance,
        } => plain(
            Api::Memorystore,
            project,
            location,
            instance,
            resources::memorystore_instance(clock, project, location, instance),
        ),
        Target::CloudTasks {
            project,
            location,
            queue,
            ..
        } => {
            let mut r = plain(
                Api::CloudTasks,
                project,
                location,
                queue,
                resources::cloud_tasks_queue(project, location, queue),
            );
            r.knobs.backlog = Some(Backlog::steady(4.0, 3.5));
            r
        }
        Target::PubsubSubscription {
            project,
            subscription,
            ..
        } => {
            let name = format!("projects/{project}/subscriptions/{subscription}");
            let path = format!("/v1/{name}");
            let mut r = plain(
                Api::Pubsub,
                project,
                region,
                subscription,
                resources::rest_resource(clock, "pubsub.googleapis.com", &path, &name, region),
            );
            r.knobs.backlog = Some(Backlog::steady(12.0, 20.0));
            r
        }
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
            let location = match after("locations") {
                l if l.is_empty() => region.to_string(),
                l => l,
            };
            Resource {
                api: Api::Rest,
                project: after("projects"),
                location,
                id: segments
                    .last()
                    .map_or_else(String::new, |s| (*s).to_string()),
                body: resources::rest_resource(clock, host, &path, &name, region),
                path,
                knobs: Knobs::default(),
                parent: None,
            }
        }
        _ => return None,
    })
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

    #[test]
    fn backups_are_daily_at_three() {
        let now = Utc::now();
        let a = backup_window(now, 1);
        let b = backup_window(now, 2);
        assert_eq!((a - b).num_milliseconds(), 86_400_000 - 7);
        assert!(a < now);
    }
}
