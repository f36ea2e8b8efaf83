//! Estate reload while the console runs: watches the estate file, and when its content
//! changes re-reads and validates it exactly as at start. A valid edit becomes the new estate;
//! an invalid one is reported in one sentence per problem and the last good estate stays.
//!
//! The file is polled (its length, modification time and, on a change, its content) rather
//! than watched through inotify: it is one small file, a poll every two seconds costs nothing,
//! and it follows editors that save by renaming a new file over the old one, network home
//! directories and bind mounts, where change notifications are unreliable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::estate::{self, Diagnostic, Estate};

/// How often the estate file is looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// What became of an edit to the estate file.
#[derive(Debug)]
pub enum Reload {
    /// The edit is valid: this is the estate now (with its warnings).
    Loaded(Arc<Estate>, Vec<Diagnostic>),
    /// The edit is not valid; the console keeps the last good estate. One line per problem.
    Rejected(Vec<String>),
}

/// The file's outward signs of change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Reads and validates the estate file as at start.
pub fn load(path: &Path) -> Reload {
    match estate::load_file(path) {
        Ok((estate, warnings)) => Reload::Loaded(Arc::new(estate), warnings),
        Err(e) => Reload::Rejected(e.to_string().lines().map(str::to_string).collect()),
    }
}

/// Watches `path` until `tx` closes; sends a [`Reload`] each time the content changes (a save
/// that changes nothing sends nothing). The first look is the baseline: the console already
/// runs the estate as it is now.
pub fn watch(path: PathBuf, tx: mpsc::Sender<Reload>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_stamp = stamp(&path);
        let mut last_text = std::fs::read(&path).ok();
        let mut ticker = tokio::time::interval(POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = tx.closed() => return,
            }
            let now = stamp(&path);
            if now == last_stamp {
                continue;
            }
            last_stamp = now;
            let text = std::fs::read(&path).ok();
            if text == last_text {
                continue;
            }
            last_text = text;
            let outcome = if last_stamp.is_none() {
                Reload::Rejected(vec![format!(
                    "{}: the estate file is gone; keeping the last good estate",
                    path.display()
                )])
            } else {
                load(&path)
            };
            if tx.send(outcome).await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"e\"\n[[service]]\nid = \"a\"\nkind = \"http\"\nurl = \"https://a.example/\"\nsev = 1\n";

    async fn next(rx: &mut mpsc::Receiver<Reload>) -> Reload {
        tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a reload within the poll")
            .expect("the watcher runs")
    }

    // Paused time: the two-second polls pass at once whenever the test waits.
    #[tokio::test(start_paused = true)]
    async fn valid_edits_load_invalid_ones_are_explained_and_unchanged_saves_are_quiet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("estate.toml");
        std::fs::write(&path, GOOD).expect("write");
        let (tx, mut rx) = mpsc::channel(4);
        let task = watch(path.clone(), tx);

        // Give the watcher its baseline, then break the file.
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::fs::write(&path, GOOD.replace("sev = 1", "sev = 9")).expect("write");
        let Reload::Rejected(lines) = next(&mut rx).await else {
            panic!("an invalid edit is rejected");
        };
        assert!(
            lines
                .iter()
                .any(|l| l.contains("estate.toml:6:7") && l.contains("sev")),
            "{lines:?}"
        );

        // A valid edit that adds a service is loaded.
        let two = format!(
            "{GOOD}[[service]]\nid = \"b\"\nkind = \"http\"\nurl = \"https://b.example/\"\nsev = 2\n"
        );
        std::fs::write(&path, &two).expect("write");
        let Reload::Loaded(estate, _) = next(&mut rx).await else {
            panic!("a valid edit loads");
        };
        assert_eq!(estate.services.len(), 2);

        // Saving the same content again is not a reload; the next real change is.
        std::fs::write(&path, &two).expect("write");
        std::fs::write(&path, two.replace("sev = 2", "sev = 3")).expect("write");
        let Reload::Loaded(estate, _) = next(&mut rx).await else {
            panic!("a valid edit loads");
        };
        assert_eq!(estate.services[1].sev.level(), 3);
        drop(rx);
        task.abort();
    }
}
