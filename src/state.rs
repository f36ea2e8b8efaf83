//! The state directory: where opsdeck keeps what it must remember between runs but that is
//! not configuration (operators' silences, the recorded status transitions). Finding it only;
//! each file's format belongs to the module that writes it.

use std::path::PathBuf;

/// `$OPSDECK_STATE_DIR`, else `$XDG_STATE_HOME/opsdeck` (else the local data directory, where
/// a platform has no state directory).
pub fn state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OPSDECK_STATE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    crate::logging::log_dir()
}
