//! Carrying what is known across an estate reload: the new estate's model keeps the state,
//! history and events of every service that is still there with the same target.

use std::sync::Arc;

use super::{Model, ServiceState};
use crate::estate::Estate;

impl Model {
    /// The model of a changed estate. A service is matched by its id; what was observed of
    /// it is kept when it still points at the same thing (same kind and locator keys), and
    /// dropped when its target changed, so an edited URL is never shown with the old one's
    /// status. Removed services leave with their events; silences are kept by id.
    #[must_use]
    pub fn with_estate(&self, estate: Arc<Estate>) -> Model {
        let old: std::collections::HashMap<&str, usize> = self
            .estate
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let old_index = |id: &str| old.get(id).copied();
        let states: Vec<ServiceState> = estate
            .services
            .iter()
            .map(|s| {
                old_index(&s.id)
                    .filter(|&i| self.estate.services[i].target == s.target)
                    .and_then(|i| self.states.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        let new: std::collections::HashMap<&str, usize> = estate
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let events = self
            .events
            .iter()
            .filter_map(|e| {
                let id = &self.estate.services.get(e.service)?.id;
                let mut moved = e.clone();
                moved.service = *new.get(id.as_str())?;
                Some(moved)
            })
            .collect();
        Model {
            estate,
            states,
            events,
            silences: self.silences.clone(),
            generation: self.generation + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate;
    use crate::model::{Observation, Outcome, ProbeReport, Status};
    use chrono::Utc;

    const BEFORE: &str = r#"
name = "e"
[[service]]
id = "a"
kind = "http"
url = "https://a.example/healthz"
sev = 1
[[service]]
id = "b"
kind = "http"
url = "https://b.example/healthz"
sev = 2
[[service]]
id = "c"
kind = "http"
url = "https://c.example/healthz"
sev = 3
"#;

    /// `c` is removed, `b` points somewhere else, `d` is new and comes first.
    const AFTER: &str = r#"
name = "e"
[[service]]
id = "d"
kind = "http"
url = "https://d.example/healthz"
sev = 1
[[service]]
id = "a"
kind = "http"
url = "https://a.example/healthz"
sev = 2
[[service]]
id = "b"
kind = "http"
url = "https://b2.example/healthz"
sev = 2
"#;

    fn load(text: &str) -> Arc<Estate> {
        Arc::new(estate::from_str(text, "e.toml").expect("valid").0)
    }

    fn down(model: &mut Model, service: usize) {
        model.apply(ProbeReport {
            service,
            at: Utc::now(),
            outcome: Outcome::Observed(Observation::down("HTTP 503")),
        });
    }

    #[test]
    fn kept_services_keep_their_state_and_events_follow_their_id() {
        let mut model = Model::new(load(BEFORE));
        down(&mut model, 0);
        down(&mut model, 1);
        down(&mut model, 2);
        let reloaded = model.with_estate(load(AFTER));
        let snap = reloaded.snapshot(Utc::now());
        let status = |id: &str| {
            snap.services
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.status)
                .expect("listed")
        };
        assert_eq!(status("a"), Status::Down, "same target: the state is kept");
        assert_eq!(
            status("b"),
            Status::Unknown,
            "new URL: nothing is known yet"
        );
        assert_eq!(status("d"), Status::Unknown);
        assert!(snap.services.iter().all(|s| s.id != "c"));
        // a's events follow it to its new index; c's leave with it.
        let ids: Vec<&str> = reloaded
            .events()
            .map(|e| reloaded.estate().services[e.service].id.as_str())
            .collect();
        assert!(ids.contains(&"a") && !ids.contains(&"c") && !ids.contains(&"d"));
        assert!(reloaded.generation() > model.generation());
    }
}
