//! What the binary does with its arguments: find the estate (or the demo), start the
//! simulator for `--demo`, and run the console, `--once`, `check` or `sim`. Returns the
//! process exit code; every error reaching the user is one sentence on stderr.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::cli::{Cli, Command, Format};
use crate::estate::{self, Diagnostic, Estate};
use crate::sim::{self, SimHandle, scenario::Scenario};
use crate::{once, output, poller, runtime};

/// Exit code for `--once` when it cannot even start (estate or credential errors).
const UNKNOWN: u8 = 3;

/// Runs the command line; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    match &cli.command {
        Some(Command::Check) => check(&cli),
        Some(Command::Sim { listen }) => serve_sim(&cli, *listen).await,
        None if cli.once => run_once(&cli).await,
        None => run_console(&cli).await,
    }
}

/// The estate the user pointed at (or the demo's), with its warnings.
fn load_estate(cli: &Cli) -> Result<(Estate, Vec<Diagnostic>), String> {
    let env = std::env::var_os("OPSDECK_ESTATE").map(std::path::PathBuf::from);
    match estate::locate(cli.global.estate.as_deref(), env) {
        Some((path, _)) => estate::load_file(&path).map_err(|e| e.to_string()),
        None if cli.global.demo => estate::from_str(estate::DEMO_ESTATE, "<built-in demo estate>")
            .map_err(|e| e.to_string()),
        None => Err(format!(
            "no estate file: pass --estate FILE, set $OPSDECK_ESTATE, or write {}; or try `opsdeck --demo` to see the console on the built-in demo",
            estate::default_location().map_or_else(
                || "<XDG config>/opsdeck/estate.toml".to_string(),
                |p| p.display().to_string()
            )
        )),
    }
}

/// A scenario by built-in name or file path.
fn load_scenario(name: &str) -> Result<Scenario, String> {
    if let Some(s) = sim::scenario::builtin(name) {
        return Ok(s);
    }
    let path = Path::new(name);
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario file '{name}': {e}"))?;
        return sim::scenario::parse(&text, name);
    }
    Err(format!(
        "unknown scenario \"{name}\": not a file, and not a built-in one ({})",
        sim::scenario::builtin_names().join(", ")
    ))
}

/// The estate to poll: as loaded, or redirected at a freshly started simulator for `--demo`.
async fn prepare(cli: &Cli) -> Result<(Arc<Estate>, Vec<Diagnostic>, Option<SimHandle>), String> {
    let (estate, warnings) = load_estate(cli)?;
    if !cli.global.demo {
        if cli.global.scenario.is_some() {
            return Err(
                "--scenario needs --demo (or the sim subcommand): scenarios run on the simulator"
                    .to_string(),
            );
        }
        return Ok((Arc::new(estate), warnings, None));
    }
    let scenario = cli
        .global
        .scenario
        .as_deref()
        .map(load_scenario)
        .transpose()?;
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let sim = sim::start(&estate, scenario, listen)
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let redirected = sim::redirect(&estate, &sim);
    Ok((Arc::new(redirected), warnings, Some(sim)))
}

fn check(cli: &Cli) -> u8 {
    match load_estate(cli) {
        Ok((estate, warnings)) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            println!(
                "{}: estate \"{}\" is valid: {} services in {} regions",
                estate.source,
                estate.name,
                estate.services.len(),
                estate.regions.len()
            );
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn run_once(cli: &Cli) -> u8 {
    let (estate, warnings, sim) = match prepare(cli).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return UNKNOWN;
        }
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    let result = once::poll(estate, cli.timeout).await;
    let snapshot = result.model.snapshot(chrono::Utc::now());
    let warning_lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    match cli.once_format() {
        Format::Json => println!(
            "{}",
            output::to_json(&snapshot, result.timed_out, &warning_lines)
        ),
        Format::Table => print!("{}", output::to_table(&snapshot, result.timed_out)),
    }
    if result.timed_out {
        eprintln!(
            "opsdeck: the run hit its {} deadline; results are partial",
            humantime::format_duration(cli.timeout)
        );
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    if result.timed_out {
        UNKNOWN
    } else {
        snapshot.exit_code
    }
}

async fn run_console(cli: &Cli) -> u8 {
    let (estate, _warnings, sim) = match prepare(cli).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let model = crate::model::Model::new(Arc::clone(&estate));
    let (report_tx, report_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::channel(16);
    let prober = Arc::new(poller::EstateProber::new(Arc::clone(&estate)));
    let poll = tokio::spawn(poller::run(
        estate,
        prober,
        report_tx,
        control_rx,
        poller::DEFAULT_CONCURRENCY,
    ));
    let result = runtime::run(model, report_rx, control_tx).await;
    poll.abort();
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            1
        }
    }
}

async fn serve_sim(cli: &Cli, listen: SocketAddr) -> u8 {
    let (estate, _) = match load_estate(cli) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let scenario = match cli
        .global
        .scenario
        .as_deref()
        .map(load_scenario)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let sim = match sim::start(&estate, scenario, listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("opsdeck: cannot start the simulator: {e}");
            return 1;
        }
    };
    let base = sim.base_url();
    println!("opsdeck simulator for estate \"{}\" on {base}", estate.name);
    println!("  Google APIs (Cloud SQL, Cloud Run v2, Memorystore, generic resources): {base}/");
    println!("  metadata server (tokens): {base}/computeMetadata/v1/");
    println!("  HTTP health endpoints: {base}/http/<service id>/");
    println!(
        "Point an estate at it with:  [gcp] endpoint = \"{base}\"  metadata_endpoint = \"{base}\""
    );
    println!("Point gcloud at it with:");
    println!(
        "  export CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL={base}/ CLOUDSDK_API_ENDPOINT_OVERRIDES_REDIS={base}/"
    );
    println!("  export CLOUDSDK_AUTH_ACCESS_TOKEN=sim-token CLOUDSDK_CORE_PROJECT=<project>");
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    0
}
