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

fn parse_duration(s: &str) -> Result<Duration, String> {
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
