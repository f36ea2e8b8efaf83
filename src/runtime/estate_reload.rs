//! The console's side of an estate reload: a valid edit swaps in the new estate's model
//! (keeping what is known of unchanged services) and a new poller for it; an invalid edit is
//! shown, and the last good estate keeps running.

use std::sync::Arc;

use tokio::sync::mpsc::{Receiver, Sender};

use crate::app::App;
use crate::estate::Estate;
use crate::model::{Model, ProbeReport};
use crate::poller::Control;
use crate::reload::Reload;

/// Starts a poller for an estate: its reports and the channel that steers it. The poller
/// stops by itself when its reports are no longer read.
pub type StartPoller =
    Box<dyn FnMut(Arc<Estate>) -> (Receiver<ProbeReport>, Sender<Control>) + Send>;

/// Estate reload while the console runs: edits arrive on `updates` (see [`crate::reload`]).
pub struct Reloading {
    pub updates: Receiver<Reload>,
    pub start: StartPoller,
}

impl std::fmt::Debug for Reloading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reloading")
    }
}

/// The next edit, or never when there is no watcher (or it has stopped).
pub async fn next(reloading: &mut Option<Reloading>) -> Reload {
    if let Some(r) = reloading
        && let Some(update) = r.updates.recv().await
    {
        return update;
    }
    std::future::pending().await
}

/// What the loop steers through: the model, the poller's two channels.
pub struct Live<'a> {
    pub model: &'a mut Model,
    pub reports: &'a mut Receiver<ProbeReport>,
    pub reports_open: &'a mut bool,
    pub control: &'a mut Sender<Control>,
}

/// Applies one reload outcome; says what happened in the footer.
pub fn apply(
    update: Reload,
    reloading: &mut Option<Reloading>,
    live: &mut Live<'_>,
    app: &mut App,
) {
    match update {
        Reload::Loaded(estate, warnings) => {
            let Some(r) = reloading.as_mut() else { return };
            let before: Vec<String> = live
                .model
                .estate()
                .services
                .iter()
                .map(|s| s.id.clone())
                .collect();
            let added = estate
                .services
                .iter()
                .filter(|s| !before.contains(&s.id))
                .count();
            let removed = before
                .iter()
                .filter(|id| estate.index_of(id).is_none())
                .count();
            *live.model = live.model.with_estate(Arc::clone(&estate));
            let (reports, control) = (r.start)(Arc::clone(&estate));
            *live.reports = reports;
            *live.control = control;
            *live.reports_open = true;
            app.show_note(format!(
                "estate reloaded from {}: {} services ({added} added, {removed} removed)",
                estate.source,
                estate.services.len()
            ));
            let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            if !lines.is_empty() {
                app.warn(&lines);
            }
        }
        Reload::Rejected(lines) => {
            // The problems, without the loader's closing count ("1 error in …").
            let mut problems: Vec<String> =
                lines.into_iter().filter(|l| !is_count_line(l)).collect();
            if problems.is_empty() {
                problems.push("the estate file cannot be read".to_string());
            }
            problems[0] = format!(
                "estate not reloaded, the last good one runs: {}",
                problems[0]
            );
            app.warn(&problems);
        }
    }
}

/// The loader's closing line: `1 error in estate.toml`, `3 errors in …`.
fn is_count_line(line: &str) -> bool {
    let mut words = line.split(' ');
    words.next().is_some_and(|n| n.parse::<u32>().is_ok())
        && matches!(words.next(), Some("error" | "errors"))
        && words.next() == Some("in")
}
