//! Drills: a runbook run against the simulator with a scenario's fault, without prompts, to
//! measure the recovery it gives. A drill first learns which services the simulator cannot
//! serve even when healthy (so they do not count), then starts the scenario, watches the
//! whole estate on the scenario clock, runs the runbook on the services the fault hit once it
//! is detected, and waits until every affected service is up again. It reports time to detect,
//! time to recover and, for restores, the data-loss window, against the estate's RTO and RPO,
//! as Markdown and JSON in `<XDG data>/opsdeck/drills/`. It never touches anything but the
//! simulator: leases and the audit log of a drill live in its own directory.

mod assess;
mod monitor;
pub mod report;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::action::Pace;
use crate::estate::{Estate, LeaseBackend, LeaseConfig};
use crate::runbook::audit::{AuditLog, Event as AuditEvent};
use crate::runbook::confirm::Confirmation;
use crate::runbook::engine::{self, Ack, Event, Mode, Operator, RunSpec};
use crate::runbook::view::LiveObserver;
use crate::runbook::{Runbook, params};
use crate::sim::{self, SimHandle, scenario::Scenario};
use assess::assess;
use report::{Report, StepLine, TargetRun};

/// What to drill, and how.
#[derive(Debug, Clone)]
pub struct Setup {
    pub runbook: Runbook,
    pub scenario: Scenario,
    /// The estate as written (the drill points it at the simulator).
    pub estate: Estate,
    pub target: Option<String>,
    pub params: Vec<(String, String)>,
    /// Where the report, the drill's audit log and its leases go.
    pub out_dir: PathBuf,
    /// Wall time between two polls of the estate (and of operations and waits).
    pub poll: Duration,
    /// How long after the fault, on the scenario clock, to wait for it to show before running
    /// the runbook anyway (a fault no probe sees: a rehearsal, lost data).
    pub detect_within: Duration,
}

impl Setup {
    /// A setup with the usual pace: a poll every 100 ms, two scenario minutes to detect.
    pub fn new(runbook: Runbook, scenario: Scenario, estate: Estate, out_dir: PathBuf) -> Setup {
        Setup {
            runbook,
            scenario,
            estate,
            target: None,
            params: Vec::new(),
            out_dir,
            poll: Duration::from_millis(100),
            detect_within: Duration::from_secs(120),
        }
    }
}

/// Runs the drill and writes its report; `Err` when it could not run at all.
pub async fn drill(setup: &Setup) -> Result<Report, String> {
    let baseline = baseline(&setup.estate).await?;
    let started_at = Utc::now();
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let sim = sim::start(&setup.estate, Some(setup.scenario.clone()), listen)
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let mut live = pointed_at(&setup.estate, &sim);
    live.lease = LeaseConfig {
        backend: LeaseBackend::File {
            dir: Some(setup.out_dir.join("leases")),
        },
        ..LeaseConfig::default()
    };
    let live = Arc::new(live);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = monitor::watch_estate(
        Arc::clone(&live),
        &sim,
        baseline,
        setup.poll,
        Arc::clone(&samples),
        stop_rx,
    );
    let main = async {
        let runs = drive(setup, &live, &sim, &samples).await;
        let _ = stop_tx.send(true);
        runs
    };
    let ((), runs) = tokio::join!(watcher, main);
    let samples = samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    sim.shutdown().await;
    let runs = runs?;
    Ok(assess(setup, &live, started_at, &samples, runs))
}

/// How the estate looks on the simulator with no fault at all.
async fn baseline(estate: &Estate) -> Result<monitor::Baseline, String> {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let sim = sim::start(estate, Some(Scenario::healthy()), listen)
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let live = Arc::new(pointed_at(estate, &sim));
    let ctx = crate::probe::ProbeContext::new(&live);
    let snapshot = monitor::look(&live, &ctx).await;
    sim.shutdown().await;
    Ok(monitor::baseline(&snapshot))
}

/// The estate pointed at the simulator. On top of what `sim::redirect` drops for the servers
/// it simulates, an unset database `password_env` is dropped too: the drill needs none of the
/// real secrets.
fn pointed_at(estate: &Estate, sim: &SimHandle) -> Estate {
    let mut live = sim::redirect(estate, sim);
    for s in &mut live.services {
        s.target.drop_unset_password();
    }
    live
}

/// The runs of the drill, and what they recorded.
struct Runs {
    each: Vec<TargetRun>,
    /// Scenario time the first run started.
    first_start: Duration,
    last_finish: Duration,
}

/// Waits for detection, runs the runbook on each target, then waits for recovery.
async fn drive(
    setup: &Setup,
    live: &Arc<Estate>,
    sim: &SimHandle,
    samples: &Arc<Mutex<Vec<monitor::Sample>>>,
) -> Result<Runs, String> {
    let fault_at = fault_at(&setup.scenario);
    let seen = |from: usize| -> (usize, monitor::Reading) {
        let s = samples.lock().unwrap_or_else(PoisonError::into_inner);
        (s.len(), monitor::read(&s[from.min(s.len())..]))
    };
    loop {
        tokio::time::sleep(setup.poll).await;
        let (_, r) = seen(0);
        if r.detected_at.is_some() || sim.scenario_clock() >= fault_at + setup.detect_within {
            break;
        }
    }
    let causes: Vec<String> = {
        let s = samples.lock().unwrap_or_else(PoisonError::into_inner);
        s.iter().flat_map(|x| x.causes.iter().cloned()).collect()
    };
    let targets = targets(setup, live, &causes)?;
    let params = params::resolve(&setup.runbook, &setup.params)?;
    let first_start = sim.scenario_clock();
    let runs = futures::future::join_all(targets.iter().map(|target| {
        let params = params.clone();
        async move {
            let spec = RunSpec {
                runbook: setup.runbook.clone(),
                estate: Arc::clone(live),
                target: target.clone(),
                params,
                confirmation: Confirmation::Typed(target.clone()),
                mode: Mode::Drill,
                read_only_flag: false,
                data_dir: setup.out_dir.clone(),
                pace: Pace {
                    operation: setup.poll,
                    wait: setup.poll,
                },
                fresh: true,
                speed: setup.scenario.speed,
            };
            let observer = LiveObserver::new(Arc::clone(live), target);
            let operator = DrillOperator {
                speed: setup.scenario.speed,
                steps: Mutex::new(Vec::new()),
            };
            let started = sim.scenario_clock();
            let (_tx, never) = watch::channel(None);
            let outcome = engine::run(&spec, &observer, &operator, never).await;
            let finished = sim.scenario_clock();
            TargetRun {
                target: target.clone(),
                outcome: outcome.word().to_string(),
                exit_code: outcome.exit_code(),
                detail: outcome.describe(),
                started_s: secs(started),
                finished_s: secs(finished),
                steps: operator
                    .steps
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            }
        }
    }))
    .await;
    let last_finish = sim.scenario_clock();
    let mark = seen(0).0;
    let rto = live.rto.unwrap_or(Duration::from_secs(900));
    let deadline = fault_at + (rto * 3).max(Duration::from_secs(3600));
    loop {
        tokio::time::sleep(setup.poll).await;
        let (count, after) = seen(mark);
        if count > mark + 1 && after.still_unhealthy.is_empty() {
            break;
        }
        if sim.scenario_clock() >= deadline {
            break;
        }
    }
    Ok(Runs {
        each: runs,
        first_start,
        last_finish,
    })
}

/// When the fault begins: the scenario's first event.
fn fault_at(scenario: &Scenario) -> Duration {
    scenario
        .events
        .iter()
        .map(|e| e.at)
        .min()
        .unwrap_or_default()
}

/// The services to run the runbook on: the one named; else the root causes the runbook fits;
/// else the services the scenario's events name that it fits; else its one candidate.
fn targets(setup: &Setup, live: &Estate, causes: &[String]) -> Result<Vec<String>, String> {
    let fits = |id: &str| {
        live.service(id)
            .is_some_and(|s| setup.runbook.kinds.contains(&s.kind))
    };
    if let Some(t) = &setup.target {
        return if fits(t) {
            Ok(vec![t.clone()])
        } else {
            Err(format!(
                "'{t}' is not a service runbook {} fits",
                setup.runbook.id
            ))
        };
    }
    let mut out: Vec<String> = Vec::new();
    for c in causes {
        if fits(c) && !out.contains(c) {
            out.push(c.clone());
        }
    }
    if out.is_empty() {
        for s in &live.services {
            let hit = setup.scenario.events.iter().any(|e| e.matches(s));
            if hit && fits(&s.id) && !out.contains(&s.id) {
                out.push(s.id.clone());
            }
        }
    }
    if out.is_empty()
        && let [one] = setup.runbook.candidates(live).as_slice()
    {
        out.push(one.id.clone());
    }
    if out.is_empty() {
        return Err(format!(
            "scenario {} hits no service runbook {} fits; name one with --target",
            setup.scenario.name, setup.runbook.id
        ));
    }
    out.sort_by_key(|id| live.service(id).map_or(9, |s| s.sev.level()));
    Ok(out)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The drill's operator: acknowledges manual steps and keeps each step's result.
struct DrillOperator {
    speed: f64,
    steps: Mutex<Vec<StepLine>>,
}

impl Operator for DrillOperator {
    fn event(&self, event: Event) {
        if let Event::StepFinished {
            n,
            result,
            detail,
            elapsed,
        } = event
        {
            self.steps
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(StepLine {
                    n,
                    result: result.word().to_string(),
                    detail,
                    took_s: elapsed.as_secs_f64() * self.speed,
                });
        }
    }

    async fn manual(&self, _n: usize, _text: &str) -> Ack {
        Ack::Unattended
    }
}

/// `opsdeck drill ID [--scenario NAME] [--estate FILE] [--target S] [--param k=v] [--json]`:
/// exit 0 when the drill passed, 1 when it failed, 4 when it could not run.
pub async fn command(cli: &crate::cli::Cli, args: &crate::cli::DrillArgs) -> u8 {
    match prepare_command(cli, args) {
        Ok((setup, json_out)) => match drill(&setup).await {
            Ok(report) => {
                match report.write(&setup.out_dir, "report") {
                    Ok((json, md)) => {
                        eprintln!("report written to {} and {}", md.display(), json.display());
                    }
                    Err(e) => eprintln!(
                        "opsdeck: cannot write the report to {}: {e}",
                        setup.out_dir.display()
                    ),
                }
                if json_out {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                } else {
                    print!("{}", report.markdown());
                }
                u8::from(!report.passed())
            }
            Err(e) => {
                eprintln!("opsdeck: the drill could not run: {e}");
                4
            }
        },
        Err(e) => {
            eprintln!("opsdeck: {e}");
            4
        }
    }
}

fn prepare_command(
    cli: &crate::cli::Cli,
    args: &crate::cli::DrillArgs,
) -> Result<(Setup, bool), String> {
    let (runbooks, _) = crate::runbook::load_all(None);
    let runbook = runbooks
        .into_iter()
        .find(|r| r.id == args.id)
        .ok_or_else(|| format!("no runbook \"{}\"", args.id))?;
    let root = crate::runbook::data_dir()
        .ok_or("no data directory for the drill report (set OPSDECK_DATA_DIR)")?
        .join("drills");
    let mut setup = setup_for(runbook, cli.global.scenario.as_deref(), &root)?;
    if cli.global.estate.is_some() {
        setup.estate = crate::launch::load_estate(cli)?.0;
    }
    if args.target.is_some() {
        setup.target.clone_from(&args.target);
    }
    if !args.params.is_empty() {
        setup.params = params::parse_assignments(&args.params)?;
    }
    Ok((setup, args.json))
}

/// The drill of `runbook` against `scenario` (else the one its `[drill]` names): the scenario
/// (a built-in name or a file), the estate it is for (the `[drill]` estate, else the
/// scenario's, else the demo), and, when the scenario is the runbook's own, its `[drill]`
/// target and parameters. Reports go to a new directory under `root`.
pub fn setup_for(
    runbook: Runbook,
    scenario: Option<&str>,
    root: &std::path::Path,
) -> Result<Setup, String> {
    let spec = runbook.drill.clone();
    let name = scenario
        .map(str::to_string)
        .or_else(|| spec.as_ref().map(|d| d.scenario.clone()))
        .ok_or_else(|| {
            format!(
                "runbook {} names no drill scenario: give --scenario NAME",
                runbook.id
            )
        })?;
    let scenario = crate::launch::load_scenario(&name)?;
    let own = spec.as_ref().filter(|d| d.scenario == name);
    let sample = own
        .and_then(|d| d.estate.clone())
        .or_else(|| scenario.estate.clone())
        .unwrap_or_else(|| "demo".to_string());
    let (_, text) = crate::estate::SAMPLE_ESTATES
        .iter()
        .find(|(n, _)| *n == sample)
        .ok_or_else(|| format!("no sample estate \"{sample}\""))?;
    let estate = crate::estate::from_str(text, &format!("<sample estate {sample}>"))
        .map_err(|e| e.to_string())?
        .0;
    let dir = root.join(format!(
        "{}-{}-{}",
        Utc::now().format("%Y%m%d-%H%M%S%.3f"),
        runbook.id,
        scenario.name
    ));
    let target = own.and_then(|d| d.target.clone());
    let given = own.map(|d| d.params.clone()).unwrap_or_default();
    let mut setup = Setup::new(runbook, scenario, estate, dir);
    setup.target = target;
    setup.params = given;
    Ok(setup)
}
