//! Diagnostic logging: to stderr for the one-shot modes, off while the console owns the
//! terminal (nothing may write over the screen).

use tracing_subscriber::EnvFilter;

use crate::cli::Cli;

/// Installs the subscriber for this run.
pub fn init(cli: &Cli) {
    let console = cli.command.is_none() && !cli.once;
    if console {
        return;
    }
    let filter = cli
        .global
        .log_level
        .as_deref()
        .map_or_else(|| EnvFilter::new("warn"), EnvFilter::new);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
