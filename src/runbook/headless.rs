//! The runbook and audit commands for scripts and terminals: `runbook list | show ID | run ID`
//! and `audit show | verify`, with text or JSON on stdout, progress on stderr, and the exit
//! codes of architecture.md (run: 0 done, 1 a step failed, 2 a check failed, 4 refused before
//! any step ran; audit verify: 0 intact or empty, 1 tampered).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::audit::{AuditLog, Verdict};
use super::confirm::Confirmation;
use super::engine::{self, Ack, Event, Mode, Operator, Outcome, RunSpec};
use super::view::LiveObserver;
use super::{Runbook, StepKind, params, plan};
use crate::action::{Clients, Pace};
use crate::estate::{Estate, Service};

/// `runbook run`'s options.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub id: String,
    pub target: Option<String>,
    pub params: Vec<String>,
    pub dry_run: bool,
    pub confirm: Option<String>,
    pub yes: bool,
    pub json: bool,
    pub fresh: bool,
}

/// Exit code of a refusal before any step ran.
pub const REFUSED: u8 = 4;

/// `runbook list`: every runbook; with an estate, the services each fits.
pub fn list(estate: Option<&Estate>, json_out: bool) -> u8 {
    let (runbooks, diags) = super::load_all(None);
    for d in &diags {
        eprintln!("{d}");
    }
    if json_out {
        let items: Vec<Value> = runbooks
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "title": r.title,
                    "applies_to": r.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    "destructive": r.destructive,
                    "targets": estate.map(|e| r.candidates(e).iter().map(|s| s.id.clone()).collect::<Vec<_>>()),
                    "drill": r.drill.as_ref().map(|d| d.scenario.clone()),
                })
            })
            .collect();
        println!(
            "{}",
            json!({"schema": "opsdeck.runbooks/v1", "runbooks": items})
        );
        return 0;
    }
    let width = runbooks.iter().map(|r| r.id.len()).max().unwrap_or(10);
    for r in &runbooks {
        let kinds: Vec<&str> = r.kinds.iter().map(|k| k.as_str()).collect();
        let mark = if r.destructive { "destructive" } else { "" };
        print!(
            "{:<width$}  {:<14} {:<11}  {}",
            r.id,
            kinds.join(","),
            mark,
            r.title
        );
        if let Some(e) = estate {
            let ids: Vec<String> = r.candidates(e).iter().map(|s| s.id.clone()).collect();
            if !ids.is_empty() {
                print!("  [{}]", ids.join(", "));
            }
        }
        println!();
    }
    0
}

/// `runbook show ID`.
pub fn show(id: &str, json_out: bool) -> u8 {
    let Some(r) = find(id) else { return REFUSED };
    if json_out {
        let steps: Vec<Value> = r
            .steps
            .iter()
            .chain(&r.on_failure)
            .enumerate()
            .map(|(i, s)| {
                json!({"n": i + 1, "kind": s.word(), "label": s.label(), "on_failure_only": i >= r.steps.len(),
                       "action": s.action().map(|a| a.name), "destructive": s.action().is_some_and(|a| a.destructive)})
            })
            .collect();
        let ps: Vec<Value> = r
            .params
            .iter()
            .map(|p| json!({"name": p.name, "type": p.kind.name(), "default": p.default, "help": p.help}))
            .collect();
        println!(
            "{}",
            json!({"schema": "opsdeck.runbook/v1", "id": r.id, "title": r.title, "summary": r.summary,
                   "applies_to": r.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                   "destructive": r.destructive, "params": ps, "steps": steps,
                   "drill": r.drill.as_ref().map(|d| json!({"scenario": d.scenario, "estate": d.estate})),
                   "source": r.source})
        );
        return 0;
    }
    println!("{} — {}", r.id, r.title);
    if let Some(s) = &r.summary {
        println!("\n{s}");
    }
    let kinds: Vec<&str> = r.kinds.iter().map(|k| k.as_str()).collect();
    println!(
        "\nApplies to: {}{}",
        kinds.join(", "),
        if r.destructive {
            "  (destructive: typed confirmation on SEV 1–2 targets)"
        } else {
            ""
        }
    );
    if !r.params.is_empty() {
        println!("\nParameters:");
        for p in &r.params {
            let default = p
                .default
                .as_ref()
                .map_or_else(|| "required".to_string(), |d| format!("default {d}"));
            println!(
                "  {} ({}, {default}){}",
                p.name,
                p.kind.name(),
                p.help
                    .as_deref()
                    .map(|h| format!(": {h}"))
                    .unwrap_or_default()
            );
        }
    }
    println!("\nSteps:");
    for (i, s) in r.steps.iter().chain(&r.on_failure).enumerate() {
        if i == r.steps.len() {
            println!("If a step fails:");
        }
        println!("  {:>2}. {:<7} {}", i + 1, s.word(), s.label());
        if let StepKind::Action { action, .. } = &s.kind {
            println!("      {}", action.summary);
        }
    }
    if let Some(d) = &r.drill {
        println!("\nDrill: opsdeck drill {} --scenario {}", r.id, d.scenario);
    }
    0
}

fn find(id: &str) -> Option<Runbook> {
    let (runbooks, diags) = super::load_all(None);
    for d in &diags {
        eprintln!("{d}");
    }
    let found = runbooks.iter().find(|r| r.id == id).cloned();
    if found.is_none() {
        let ids: Vec<&str> = runbooks.iter().map(|r| r.id.as_str()).collect();
        eprintln!(
            "opsdeck: no runbook \"{id}\" (there are: {})",
            ids.join(", ")
        );
    }
    found
}

/// The target: the one named, else the one service the runbook fits.
pub fn pick_target<'e>(
    runbook: &Runbook,
    estate: &'e Estate,
    named: Option<&str>,
) -> Result<&'e Service, String> {
    if let Some(id) = named {
        let s = estate
            .service(id)
            .ok_or_else(|| format!("'{id}' is not a service of the estate '{}'", estate.name))?;
        if !runbook.kinds.contains(&s.kind) {
            return Err(format!(
                "runbook {} does not apply to '{id}', a {} service",
                runbook.id, s.kind
            ));
        }
        return Ok(s);
    }
    match runbook.candidates(estate).as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no service of the estate is a {} service",
            kinds(runbook)
        )),
        many => Err(format!(
            "several services fit runbook {}: {}; name one with --target",
            runbook.id,
            many.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn kinds(r: &Runbook) -> String {
    r.kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `runbook run ID`: the plan first, then (unless `--dry-run`) the run.
pub async fn run(
    estate: Arc<Estate>,
    args: &RunArgs,
    read_only_flag: bool,
    data_dir: std::path::PathBuf,
) -> u8 {
    let Some(runbook) = find(&args.id) else {
        return REFUSED;
    };
    let refused = |why: String| {
        eprintln!("opsdeck: refused: {why}");
        if args.json {
            println!(
                "{}",
                json!({"schema": "opsdeck.run/v1", "runbook": args.id, "outcome": "refused", "exit_code": REFUSED, "detail": why})
            );
        }
        REFUSED
    };
    let target = match pick_target(&runbook, &estate, args.target.as_deref()) {
        Ok(t) => t.clone(),
        Err(e) => return refused(e),
    };
    let given = match params::parse_assignments(&args.params) {
        Ok(g) => g,
        Err(e) => return refused(e),
    };
    let params = match params::resolve(&runbook, &given) {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let observer = LiveObserver::new(Arc::clone(&estate), &target.id);
    let clients = Clients::new(&estate);
    let read_only = estate.read_only || read_only_flag;
    let the_plan = plan::build(
        &runbook, &estate, &target, &params, &clients, &observer, read_only, "dry-run",
    )
    .await;
    if args.dry_run {
        if args.json {
            println!("{}", serde_json::to_string(&the_plan).unwrap_or_default());
        } else {
            print!("{}", the_plan.text());
        }
        return 0;
    }
    if args.json {
        eprint!("{}", the_plan.text());
    } else {
        print!("{}", the_plan.text());
        println!();
    }
    let confirmation = match (&args.confirm, args.yes) {
        (Some(id), _) => Confirmation::Typed(id.clone()),
        (None, true) => Confirmation::Yes,
        (None, false) => Confirmation::None,
    };
    let spec = RunSpec {
        runbook,
        estate: Arc::clone(&estate),
        target: target.id.clone(),
        params,
        confirmation,
        mode: Mode::Run,
        read_only_flag,
        data_dir,
        pace: Pace::default(),
        fresh: args.fresh,
        speed: 1.0,
    };
    let (stop_tx, stop) = watch::channel(None);
    let signals = tokio::spawn(signals(stop_tx));
    let operator = Terminal::default();
    let outcome = engine::run(&spec, &observer, &operator, stop).await;
    signals.abort();
    report(&spec, &outcome, &operator, args.json);
    outcome.exit_code()
}

fn report(spec: &RunSpec, outcome: &Outcome, operator: &Terminal, json_out: bool) {
    if json_out {
        let steps = operator
            .finished
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        println!(
            "{}",
            json!({"schema": "opsdeck.run/v1", "runbook": spec.runbook.id, "estate": spec.estate.name,
                   "target": spec.target, "outcome": outcome.word(), "exit_code": outcome.exit_code(),
                   "detail": outcome.describe(), "steps": steps})
        );
    } else {
        println!("{}: {}", spec.runbook.id, outcome.describe());
    }
    if let Outcome::Refused(_) = outcome {
        eprintln!("opsdeck: {}", outcome.describe());
    }
}

/// SIGHUP (the SSH session dropped), SIGTERM and Ctrl-C ask the run to stop.
async fn signals(stop: watch::Sender<Option<String>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = hup.recv() => "SIGHUP (the terminal went away)",
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT (Ctrl-C)",
    };
    let _ = stop.send(Some(name.to_string()));
}

/// The headless operator: progress on stderr, manual steps confirmed on the terminal.
#[derive(Default)]
struct Terminal {
    finished: std::sync::Mutex<Vec<Value>>,
}

impl Operator for Terminal {
    fn event(&self, event: Event) {
        let line = match &event {
            Event::Note(t) => format!("· {t}"),
            Event::StepStarted { n, kind, label } => format!("[{n}] {kind}: {label}"),
            Event::Progress { n, text } => format!("[{n}]   {text}"),
            Event::StepFinished {
                n,
                result,
                detail,
                elapsed,
            } => {
                if let Ok(mut f) = self.finished.lock() {
                    f.push(json!({"n": n, "result": result.word(), "detail": detail, "elapsed_ms": engine::millis(*elapsed)}));
                }
                format!(
                    "[{n}] {} in {:.1}s: {detail}",
                    result.word(),
                    elapsed.as_secs_f64()
                )
            }
        };
        eprintln!("{line}");
    }

    async fn manual(&self, n: usize, text: &str) -> Ack {
        eprintln!("[{n}] MANUAL STEP:");
        for line in text.lines() {
            eprintln!("[{n}]   {line}");
        }
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "[{n}]   (no terminal to confirm on: the instructions are recorded, and the run goes on)"
            );
            return Ack::Unattended;
        }
        let answer = tokio::task::spawn_blocking(|| {
            let mut out = std::io::stderr();
            let mut line = String::new();
            loop {
                let _ = write!(
                    out,
                    "Type 'done' when it is done, or 'stop' to stop the run: "
                );
                let _ = out.flush();
                line.clear();
                if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                    return Ack::Stop;
                }
                match line.trim() {
                    "done" => return Ack::Done,
                    "stop" => return Ack::Stop,
                    _ => {}
                }
            }
        })
        .await;
        answer.unwrap_or(Ack::Stop)
    }
}

/// `audit show`: the last `limit` entries.
pub fn audit_show(log: &AuditLog, limit: usize, json_out: bool) -> u8 {
    let entries = match log.read() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let start = entries.len().saturating_sub(limit);
    if json_out {
        for e in &entries[start..] {
            println!("{}", serde_json::to_string(e).unwrap_or_default());
        }
        return 0;
    }
    if entries.is_empty() {
        println!("no audit entries yet ({})", log.path().display());
        return 0;
    }
    for e in &entries[start..] {
        let who = e.who.as_ref().map_or_else(String::new, |w| {
            let google = w
                .google
                .as_deref()
                .map(|g| format!(" ({g})"))
                .unwrap_or_default();
            format!("{}{google}", w.short())
        });
        let mut line = format!(
            "{:>5}  {}  {:<16} {:<15} {}",
            e.seq,
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.event.as_str(),
            who,
            e.runbook.as_deref().unwrap_or("-"),
        );
        if let Some(t) = &e.target {
            line.push_str(&format!(" → {t}"));
        }
        if let Some(n) = e.step {
            line.push_str(&format!("  step {n}"));
        }
        if let Some(a) = &e.action {
            line.push_str(&format!(" {a}"));
        }
        if let Some(r) = &e.result {
            line.push_str(&format!("  {r}"));
        }
        if let Some(op) = &e.operation {
            line.push_str(&format!("  op {}", op.short()));
        }
        if let Some(ms) = e.duration_ms {
            line.push_str(&format!("  {:.1}s", ms as f64 / 1000.0));
        }
        println!("{line}");
        for r in e.request.iter().flatten() {
            println!("         {}", r.line());
        }
        if let Some(d) = e
            .detail
            .as_ref()
            .filter(|_| e.event != super::audit::Event::StepStarted)
        {
            println!("         {d}");
        }
    }
    0
}

/// `audit verify`.
pub fn audit_verify(log: &AuditLog) -> u8 {
    match log.verify() {
        Verdict::Empty => {
            println!(
                "no audit log at {} yet: nothing to verify",
                log.path().display()
            );
            0
        }
        Verdict::Intact { entries } => {
            println!(
                "audit log {} is intact: {entries} entries, hash chain and head agree",
                log.path().display()
            );
            0
        }
        Verdict::Broken(problems) => {
            println!("audit log {} has been tampered with:", log.path().display());
            for p in problems {
                println!("  {p}");
            }
            1
        }
    }
}
