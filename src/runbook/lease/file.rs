//! The local-file lease: `<dir>/<name>.lease` holds the holder as JSON. Reads and writes of it
//! happen under an exclusive lock on `<name>.lock`, so two processes on the bastion decide one
//! at a time. Good for one bastion only: two hosts do not see each other's files.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{Holder, LeaseError, LeaseSpot};

fn paths(spot: &LeaseSpot, dir: &Path) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{}.lease", spot.name)),
        dir.join(format!("{}.lock", spot.name)),
    )
}

/// Runs `f` holding the lock file.
fn locked<T>(
    spot: &LeaseSpot,
    dir: &Path,
    f: impl FnOnce(&Path) -> Result<T, LeaseError>,
) -> Result<T, LeaseError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| spot.backend_error(format!("cannot create {}: {e}", dir.display())))?;
    let (file, lock) = paths(spot, dir);
    let guard = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| spot.backend_error(format!("cannot open {}: {e}", lock.display())))?;
    guard
        .lock()
        .map_err(|e| spot.backend_error(format!("cannot lock {}: {e}", lock.display())))?;
    let out = f(&file);
    drop(guard);
    out
}

fn read(spot: &LeaseSpot, file: &Path) -> Result<Option<Holder>, LeaseError> {
    match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            spot.backend_error(format!("{} is not a lease record: {e}", file.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(spot.backend_error(format!("cannot read {}: {e}", file.display()))),
    }
}

fn write(spot: &LeaseSpot, file: &Path, holder: &Holder) -> Result<(), LeaseError> {
    let tmp = file.with_extension("lease.tmp");
    let text = serde_json::to_string_pretty(holder).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|e| spot.backend_error(format!("cannot write {}: {e}", file.display())))
}

pub(super) fn acquire(
    spot: &LeaseSpot,
    dir: &Path,
    me: &Holder,
    reclaim: Option<&str>,
) -> Result<(), LeaseError> {
    locked(spot, dir, |file| {
        if let Some(current) = read(spot, file)?
            && !LeaseSpot::may_take(&current, me, reclaim)
        {
            return Err(spot.held(current));
        }
        write(spot, file, me)
    })
}

pub(super) fn renew(spot: &LeaseSpot, dir: &Path, me: &Holder) -> Result<(), LeaseError> {
    locked(spot, dir, |file| {
        match read(spot, file)? {
            Some(current) if current.run == me.run => {}
            Some(current) => {
                return Err(LeaseError::Lost {
                    target: spot.target.clone(),
                    why: format!("it is now held by {}", current.describe()),
                });
            }
            None => {
                return Err(LeaseError::Lost {
                    target: spot.target.clone(),
                    why: format!("{} was removed", file.display()),
                });
            }
        }
        let mut next = me.clone();
        next.expires_at = Utc::now()
            + chrono::Duration::from_std(spot.ttl).unwrap_or(chrono::Duration::minutes(5));
        write(spot, file, &next)
    })
}

pub(super) fn release(spot: &LeaseSpot, dir: &Path, me: &Holder) -> Result<(), LeaseError> {
    locked(spot, dir, |file| {
        if read(spot, file)?.is_some_and(|c| c.run == me.run) {
            std::fs::remove_file(file).map_err(|e| {
                spot.backend_error(format!("cannot remove {}: {e}", file.display()))
            })?;
        }
        Ok(())
    })
}

pub(super) fn holder(spot: &LeaseSpot, dir: &Path) -> Result<Option<Holder>, LeaseError> {
    let (file, _) = paths(spot, dir);
    read(spot, &file)
}
