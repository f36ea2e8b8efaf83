//! Command-line arguments (clap): the console, `--once`, and the subcommands. Global flags
//! work before or after a subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A terminal operations console: what is down, how bad, and what it takes with it.
#[derive(Debug, Parser)]
#[command(name = "opsdeck", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    /// Poll everything once, print, and exit with a Nagios code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    #[arg(long)]
    pub once: bool,

    /// Output of --once.
    #[arg(long, value_enum, requires = "once")]
    pub format: Option<Format>,

    /// Same as --format json.
    #[arg(long, requires = "once", conflicts_with = "format")]
    pub json: bool,

    /// Bound on the whole --once run; on expiry it exits UNKNOWN with what it gathered.
    #[arg(long, default_value = "10s", value_parser = parse_duration, requires = "once")]
    pub timeout: Duration,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every mode takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The estate file (else $OPSDECK_ESTATE, else <XDG config>/opsdeck/estate.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub estate: Option<PathBuf>,

    /// Run against the built-in simulator (the built-in demo estate unless --estate is given).
    #[arg(long, global = true)]
    pub demo: bool,

    /// A simulator scenario: a built-in name (healthy, cloudsql-down, …) or a scenario file.
    #[arg(long, global = true, value_name = "NAME")]
    pub scenario: Option<String>,

    /// The console's theme: default-dark, light, high-contrast, colorblind, monochrome, or a
    /// file <XDG config>/opsdeck/themes/NAME.toml (NO_COLOR selects monochrome).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Log level for messages on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, env = "OPSDECK_LOG", value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Change nothing: every runbook action is refused where it would be sent.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Never ring the terminal bell (the console rings it once when a new SEV 1–2 appears).
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// opsdeck.health/v1
    Json,
    /// An aligned table for a terminal.
    Table,
    /// The Nagios plugin API: a status line with perfdata (NRPE, check_by_ssh, Icinga).
    Nagios,
    /// Prometheus exposition text (node_exporter's textfile collector).
    Prometheus,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the estate file; exits 0 when it is valid, 1 when not.
    Check,
    /// Run the simulator standalone for an estate, on loopback.
    Sim {
        /// Address to listen on (loopback only); port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Write the estate, pointed at the running simulator, to this file.
        #[arg(long, value_name = "FILE")]
        write_estate: Option<PathBuf>,
    },
    /// Check, on a new bastion, that every backend the estate names can be reached.
    Doctor,
    /// Discover an estate (Google projects, kube contexts, Redis/RabbitMQ/PostgreSQL URLs) and
    /// write it as a commented estate file.
    Init(InitArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Print the JSON Schema of a file format, for editors.
    Schema {
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Runbooks: list them, show one, or run one (exit 0 done, 1 a step failed, 2 a check
    /// failed, 4 refused before any step ran).
    Runbook {
        #[command(subcommand)]
        command: RunbookCommand,
    },
    /// Drill a runbook against the simulator: play a scenario's fault, run the runbook without
    /// prompts, measure detection, recovery and data loss against the estate's RTO and RPO
    /// (exit 0 only when they are met).
    Drill(DrillArgs),
    /// The audit log of every runbook step.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Silences: acknowledge services for a while, with a reason. A silenced service stays on
    /// the map, marked, but no longer raises the exit code of --once or rings the bell.
    Silence {
        #[command(subcommand)]
        command: SilenceCommand,
    },
    /// The incident timeline for a postmortem: status changes, silences, maintenance windows
    /// and runbook runs, oldest first.
    Timeline(TimelineArgs),
}

/// `opsdeck silence …`.
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence services for a while (--for) or until a time (--until), with a reason.
    Add(SilenceAddArgs),
    /// The silences in force or planned, and the estate's maintenance windows.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Lift the silence of services before it runs out.
    Remove {
        /// Service ids.
        #[arg(required = true, value_name = "SERVICE")]
        services: Vec<String>,
    },
}

/// `opsdeck silence add …`.
#[derive(Debug, Args)]
pub struct SilenceAddArgs {
    /// Service ids.
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
    /// How long, like 30m or 2h.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration,
          required_unless_present = "until", conflicts_with = "until")]
    pub duration: Option<Duration>,
    /// Until this time (RFC 3339, like 2025-06-01T14:00:00Z or 2025-06-01T16:00:00+02:00).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Begin at this time instead of now (RFC 3339): planned work announced ahead.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// Why: shown beside the service, in the JSON and in the audit log.
    #[arg(long)]
    pub reason: String,
}

/// `opsdeck timeline …`.
#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// How far back: a duration (2h, 1d) or a time (RFC 3339).
    #[arg(long, default_value = "24h", value_name = "DURATION|TIME")]
    pub since: String,
    /// Markdown for a postmortem document, or JSON.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: TimelineFormat,
}

/// Output of `opsdeck timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineFormat {
    /// A table a postmortem can take as it is.
    Markdown,
    /// `opsdeck.timeline/v1`.
    Json,
}

/// `opsdeck runbook …`.
#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// List the runbooks (with an estate: the services each one fits).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one runbook's parameters and steps.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a runbook: prints the plan (the exact requests), then runs it.
    Run(RunArgs),
}

/// `opsdeck runbook run …`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The runbook id (its file stem, like cloud-sql-failover).
    pub id: String,
    /// The service to act on; may be left out when exactly one service fits.
    #[arg(long, value_name = "SERVICE")]
    pub target: Option<String>,
    /// A parameter (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Print the plan (every request, secrets masked) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm by naming the target's service id (needed for destructive runbooks on SEV 1–2).
    #[arg(long, value_name = "SERVICE", conflicts_with = "yes")]
    pub confirm: Option<String>,
    /// Confirm a run on a SEV 3–4 target, or a runbook that destroys nothing.
    #[arg(long)]
    pub yes: bool,
    /// Start over even when an earlier run of this runbook on the target did not finish.
    #[arg(long)]
    pub fresh: bool,
    /// JSON on stdout (the plan with --dry-run, else the result); progress stays on stderr.
    #[arg(long)]
    pub json: bool,
}

/// `opsdeck drill …`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The runbook id.
    pub id: String,
    /// The service to run it against (else the one the fault hits, or the runbook's [drill] target).
    #[arg(long, value_name = "SERVICE")]
    pub target: Option<String>,
    /// A parameter for the run (repeatable; else the runbook's [drill] params).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The JSON report on stdout instead of the Markdown one.
    #[arg(long)]
    pub json: bool,
}

/// `opsdeck audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The most recent entries.
    Show {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON entry per line, as stored.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain: exit 0 when intact (or empty), 1 when an entry was edited,
    /// removed or inserted.
    Verify,
}

/// The file formats with a JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Estate,
    Runbook,
    Theme,
}

/// What `opsdeck init` discovers.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// A Google Cloud project to list (repeatable).
    #[arg(long = "project", value_name = "PROJECT")]
    pub projects: Vec<String>,
    /// A GCP region to list regional services in (repeatable).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// A kube context whose Deployments and StatefulSets to list (repeatable).
    #[arg(long = "kube-context", value_name = "CONTEXT")]
    pub kube_contexts: Vec<String>,
    /// The kubeconfig to read (else $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// A Redis server to add (repeatable).
    #[arg(long = "redis", value_name = "URL")]
    pub redis: Vec<String>,
    /// A RabbitMQ management API whose queues to add (repeatable).
    #[arg(long = "rabbitmq", value_name = "URL")]
    pub rabbitmq: Vec<String>,
    /// A PostgreSQL server to add (repeatable).
    #[arg(long = "postgres", value_name = "URL")]
    pub postgres: Vec<String>,
    /// A Google API root to use instead of Google's (a simulator).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The estate's name.
    #[arg(long, default_value = "my-estate")]
    pub name: String,
    /// Where to write it ("-" for stdout).
    #[arg(long, short, value_name = "FILE", default_value = "-")]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|_| format!("\"{s}\" is not a duration; write it with a unit, like \"10s\""))
}

impl Cli {
    /// The --once output format (table unless JSON was asked for).
    pub fn once_format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Table)
        }
    }
}
