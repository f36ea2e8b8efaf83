//! What the binary does with its arguments: find the estate (or the demo), start the
//! simulator for `--demo`, and run the console, `--once`, `check` or `sim`. Returns the
//! process exit code; every error reaching the user is one sentence on stderr.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::cli::{Cli, Command, Format};
use crate::estate::{self, Diagnostic, Estate};
use crate::sim::{self, SimHandle, scenario::Scenario};
use crate::{once, output, poller, runtime};

/// Exit code for `--once` when it cannot even start (estate or credential errors).
const UNKNOWN: u8 = 3;

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Runs the command line; returns the exit code.
pub async fn run(cli: Cli) -> u8 {
    match &cli.command {
        Some(Command::Check) => check(&cli),
        Some(Command::Sim {
            listen,
            write_estate,
        }) => serve_sim(&cli, *listen, write_estate.as_deref()).await,
        Some(Command::Doctor) => doctor(&cli).await,
        Some(Command::Init(args)) => init(args).await,
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "opsdeck", &mut buf);
            emit(&String::from_utf8_lossy(&buf));
            0
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            match clap_mangen::Man::new(cmd).render(&mut buf) {
                Ok(()) => {
                    emit(&String::from_utf8_lossy(&buf));
                    0
                }
                Err(e) => {
                    eprintln!("opsdeck: cannot write the man page: {e}");
                    1
                }
            }
        }
        Some(Command::Schema { which }) => {
            let schema = match which {
                crate::cli::SchemaKind::Estate => crate::schema::estate(),
                crate::cli::SchemaKind::Runbook => crate::schema::runbook(),
                crate::cli::SchemaKind::Theme => crate::schema::theme(),
            };
            emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            ));
            0
        }
        Some(Command::Runbook { command }) => runbook_command(&cli, command).await,
        Some(Command::Drill(args)) => crate::drill::command(&cli, args).await,
        Some(Command::Audit { command }) => audit_command(command),
        Some(Command::Silence { command }) => crate::silence::cli::command(&cli, command),
        Some(Command::Timeline(args)) => crate::timeline::command(&cli, args),
        None if cli.once => run_once(&cli).await,
        None => run_console(&cli).await,
    }
}

/// `opsdeck runbook list | show | run`.
async fn runbook_command(cli: &Cli, command: &crate::cli::RunbookCommand) -> u8 {
    use crate::cli::RunbookCommand;
    use crate::runbook::headless;
    match command {
        RunbookCommand::List { json } => {
            let estate = load_estate(cli).ok().map(|(e, _)| e);
            headless::list(estate.as_ref(), *json)
        }
        RunbookCommand::Show { id, json } => headless::show(id, *json),
        RunbookCommand::Run(a) => {
            let Some(data_dir) = crate::runbook::data_dir() else {
                eprintln!(
                    "opsdeck: refused: no data directory for the audit log (set OPSDECK_DATA_DIR)"
                );
                return headless::REFUSED;
            };
            let (estate, _warnings, sim) = match prepare(cli).await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("opsdeck: refused: {e}");
                    return headless::REFUSED;
                }
            };
            let args = headless::RunArgs {
                id: a.id.clone(),
                target: a.target.clone(),
                params: a.params.clone(),
                dry_run: a.dry_run,
                confirm: a.confirm.clone(),
                yes: a.yes,
                json: a.json,
                fresh: a.fresh,
            };
            let code = headless::run(estate, &args, cli.global.read_only, data_dir).await;
            if let Some(sim) = sim {
                sim.shutdown().await;
            }
            code
        }
    }
}

/// `opsdeck audit show | verify`.
fn audit_command(command: &crate::cli::AuditCommand) -> u8 {
    use crate::cli::AuditCommand;
    use crate::runbook::{audit::AuditLog, headless};
    let Some(log) = AuditLog::default_location() else {
        eprintln!("opsdeck: no data directory for the audit log (set OPSDECK_DATA_DIR)");
        return 1;
    };
    match command {
        AuditCommand::Show { limit, json } => headless::audit_show(&log, *limit, *json),
        AuditCommand::Verify => headless::audit_verify(&log),
    }
}

/// The estate the user pointed at (or the demo's), with its warnings.
pub(crate) fn load_estate(cli: &Cli) -> Result<(Estate, Vec<Diagnostic>), String> {
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
pub(crate) fn load_scenario(name: &str) -> Result<Scenario, String> {
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
    let warnings = without_dropped_passwords(warnings, &estate, &redirected);
    Ok((Arc::new(redirected), warnings, Some(sim)))
}

/// The warnings less those about a `password_env` the simulator does not need: the demo
/// serves those backends itself, without a password.
fn without_dropped_passwords(
    warnings: Vec<Diagnostic>,
    estate: &Estate,
    redirected: &Estate,
) -> Vec<Diagnostic> {
    let dropped: Vec<String> = estate
        .services
        .iter()
        .zip(&redirected.services)
        .filter(|(before, after)| {
            before.target.password_env().is_some() && after.target.password_env().is_none()
        })
        .map(|(s, _)| format!("service \"{}\": environment variable", s.id))
        .collect();
    warnings
        .into_iter()
        .filter(|w| !dropped.iter().any(|d| w.message.starts_with(d.as_str())))
        .collect()
}

async fn doctor(cli: &Cli) -> u8 {
    let (estate, warnings, sim) = match prepare(cli).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let checks = crate::doctor::run(estate, warnings.len()).await;
    emit(&crate::doctor::render(&checks));
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    crate::doctor::exit_code(&checks)
}

async fn init(args: &crate::cli::InitArgs) -> u8 {
    let to_stdout = args.out.as_os_str() == "-";
    if !to_stdout && args.out.exists() && !args.force {
        eprintln!(
            "opsdeck: '{}' already exists; pass --force to overwrite it",
            args.out.display()
        );
        return 1;
    }
    let found = crate::init::discover(args).await;
    for p in &found.problems {
        eprintln!("opsdeck: not listed: {p}");
    }
    if to_stdout {
        emit(&found.text);
    } else if let Err(e) = std::fs::write(&args.out, &found.text) {
        eprintln!("opsdeck: cannot write '{}': {e}", args.out.display());
        return 1;
    } else {
        eprintln!(
            "opsdeck: wrote {} services to {}; review the SEVs and add dependencies, then run `opsdeck check --estate {}`",
            found.services,
            args.out.display(),
            args.out.display()
        );
    }
    u8::from(found.services == 0 && !found.problems.is_empty())
}

fn check(cli: &Cli) -> u8 {
    match load_estate(cli) {
        Ok((estate, warnings)) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            emit(&format!(
                "{}: estate \"{}\" is valid: {} services in {} regions\n",
                estate.source,
                estate.name,
                estate.services.len(),
                estate.regions.len()
            ));
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
    let mut result = once::poll(estate, cli.timeout).await;
    crate::silence::apply_stored(&mut result.model, chrono::Utc::now());
    crate::runbook::recent::note_runbook_runs(&mut result.model);
    let snapshot = result.model.snapshot(chrono::Utc::now());
    crate::timeline::record_snapshot(&snapshot);
    let warning_lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    match cli.once_format() {
        Format::Json => emit(&format!(
            "{}\n",
            output::to_json(&snapshot, result.timed_out, &warning_lines)
        )),
        Format::Table => emit(&output::to_table(&snapshot, result.timed_out)),
        Format::Nagios => emit(&output::to_nagios(&snapshot, result.timed_out)),
        Format::Prometheus => emit(&output::to_prometheus(&snapshot, result.timed_out)),
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

/// Starts the poller of an estate: its reports, and the channel that steers it.
fn start_poller(
    estate: Arc<Estate>,
) -> (
    mpsc::Receiver<crate::model::ProbeReport>,
    mpsc::Sender<poller::Control>,
) {
    let (report_tx, report_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::channel(16);
    let prober = Arc::new(poller::EstateProber::new(Arc::clone(&estate)));
    tokio::spawn(poller::run(
        estate,
        prober,
        report_tx,
        control_rx,
        poller::DEFAULT_CONCURRENCY,
    ));
    (report_rx, control_tx)
}

async fn run_console(cli: &Cli) -> u8 {
    let (estate, _warnings, sim) = match prepare(cli).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let mut model = crate::model::Model::new(Arc::clone(&estate));
    crate::runbook::recent::note_runbook_runs(&mut model);
    // Under --demo the simulator's world was built from the estate at start: no reload.
    let watched = (sim.is_none() && Path::new(&estate.source).is_file())
        .then(|| PathBuf::from(&estate.source));
    let (report_rx, control_tx) = start_poller(estate);
    let reload = watched.map(|path| {
        let (tx, updates) = mpsc::channel(4);
        crate::reload::watch(path, tx);
        runtime::Reloading {
            updates,
            start: Box::new(start_poller),
        }
    });
    let options = runtime::Options {
        theme: cli.global.theme.clone(),
        bell: !cli.global.quiet,
        reload,
        read_only: cli.global.read_only,
    };
    // Each poller stops by itself once the console no longer reads its reports.
    let result = runtime::run(model, report_rx, control_tx, options).await;
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

async fn serve_sim(cli: &Cli, listen: SocketAddr, write_estate: Option<&Path>) -> u8 {
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
    // With no estate named, a scenario written for a sample estate brings its estate.
    let named = cli.global.estate.is_none() && std::env::var_os("OPSDECK_ESTATE").is_none();
    let sample = scenario
        .as_ref()
        .and_then(|s| s.estate.as_deref())
        .filter(|_| named)
        .and_then(|n| estate::SAMPLE_ESTATES.iter().find(|(name, _)| *name == n));
    let loaded = match sample {
        Some((name, text)) => estate::from_str(text, &format!("<sample estate {name}>"))
            .map(|(e, w)| (e, w, (*text).to_string()))
            .map_err(|e| e.to_string()),
        None => load_estate(cli).and_then(|(e, w)| {
            let text = if Path::new(&e.source).is_file() {
                std::fs::read_to_string(&e.source)
                    .map_err(|err| format!("cannot read {}: {err}", e.source))?
            } else {
                estate::DEMO_ESTATE.to_string()
            };
            Ok((e, w, text))
        }),
    };
    let (estate, _, source) = match loaded {
        Ok(x) => x,
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
    let project = estate
        .gcp
        .as_ref()
        .and_then(|g| g.project.clone())
        .unwrap_or_else(|| "sim-project".to_string());
    println!("opsdeck simulator for estate \"{}\" on {base}", estate.name);
    println!("  Cloud SQL Admin (v1/, sql/v1beta4/):        {base}/");
    println!(
        "  Cloud Run Admin v2, Knative v1:             {base}/  (gcloud: through the proxy below)"
    );
    println!("  Cloud Tasks (v2, v2beta3), Memorystore v1:  {base}/");
    println!(
        "  Cloud Monitoring v3, PromQL:                {base}/v3/…  {base}/v1/projects/{project}/location/global/prometheus/api/v1/query"
    );
    println!(
        "  other Google resources (KMS, Secret Manager, VPC connectors, Scheduler): {base}/<their path>"
    );
    println!("  metadata server (tokens):                   {base}/computeMetadata/v1/");
    println!("  OAuth token endpoint:                       {base}/token");
    println!("  HTTP health endpoints:                      {base}/http/<service id>/");
    println!("  state and counters:                         {base}/_sim/stats");
    let redirected = sim::redirect(&estate, &sim);
    if let Some(path) = write_estate {
        let written = sim::ready_estate(&source, &redirected, &sim).and_then(|text| {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
        match written {
            Ok(()) => println!(
                "Estate pointed at the simulator: {}  (opsdeck --estate {} …)",
                path.display(),
                path.display()
            ),
            Err(e) => {
                eprintln!("opsdeck: {e}");
                sim.shutdown().await;
                return 1;
            }
        }
    } else {
        println!(
            "Point an estate at it with:  [gcp] endpoint = \"{base}\"  metadata_endpoint = \"{base}\"  (or --write-estate FILE)"
        );
    }
    for line in sim.cluster_lines() {
        println!("{line}");
    }
    println!("Point gcloud at it with:");
    println!("  export CLOUDSDK_CONFIG=\"$(mktemp -d)\"");
    for (key, value) in sim.gcloud_env(&project) {
        println!("  export {key}={value}");
    }
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    0
}
