//! Diagnostic logging: always to a daily-rotated file in the XDG state directory (a week
//! kept), and additionally to stderr in the one-shot modes when `--log-level` or
//! `OPSDECK_LOG` asks. Never to the terminal while the console owns it.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::cli::Cli;

/// Where the log files go: `$XDG_STATE_HOME/opsdeck` (else the local data directory).
pub fn log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "opsdeck")?;
    Some(dirs.state_dir().map_or_else(
        || dirs.data_local_dir().to_path_buf(),
        std::path::Path::to_path_buf,
    ))
}

/// Installs logging for this run; keep the guard alive until exit so the file is flushed.
pub fn init(cli: &Cli) -> Option<WorkerGuard> {
    let console = cli.command.is_none() && !cli.once;
    let level = cli.global.log_level.clone();
    let filter = || EnvFilter::new(level.as_deref().unwrap_or("info"));

    let (file_layer, guard) = match log_dir().and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        Builder::new()
            .rotation(Rotation::DAILY)
            .filename_prefix("opsdeck")
            .filename_suffix("log")
            .max_log_files(7)
            .build(&dir)
            .ok()
    }) {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_target(false)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr_layer = (!console && level.is_some()).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}
