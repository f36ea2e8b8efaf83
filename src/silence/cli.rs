//! `opsdeck silence add | list | remove`: checks the services against the estate, then
//! changes the store (which records each change in the audit log). Exit 0 done, 1 when
//! nothing could be done as asked; every problem is one sentence on stderr.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{SilenceStore, Stored};
use crate::cli::{Cli, SilenceAddArgs, SilenceCommand};
use crate::estate::{Estate, reader::closest};
use crate::model::Silence;
use crate::runbook::audit::Who;

/// Runs one `opsdeck silence` command; returns the exit code.
pub fn command(cli: &Cli, command: &SilenceCommand) -> u8 {
    let estate = match crate::launch::load_estate(cli) {
        Ok((e, _)) => e,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let Some(store) = SilenceStore::default_location() else {
        eprintln!("opsdeck: no state directory to keep silences in (set OPSDECK_STATE_DIR)");
        return 1;
    };
    let who = Who::local();
    let now = Utc::now();
    let result = match command {
        SilenceCommand::Add(args) => add(&estate, &store, &who, now, args),
        SilenceCommand::List { json } => list(&estate, &store, &who, now, *json),
        SilenceCommand::Remove { services } => remove(&estate, &store, &who, now, services),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            1
        }
    }
}

/// Reads an RFC 3339 time given on the command line.
fn parse_time(flag: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "--{flag} \"{text}\" is not a time; write it in RFC 3339, like 2025-06-01T14:00:00Z or 2025-06-01T16:00:00+02:00"
            )
        })
}

/// The service ids of the estate, or a sentence naming the first one that is not there.
fn check_services(estate: &Estate, services: &[String]) -> Result<(), String> {
    for id in services {
        if estate.service(id).is_none() {
            let hint = closest(id, estate.services.iter().map(|s| s.id.as_str()))
                .map(|c| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            return Err(format!(
                "no service \"{id}\" in estate \"{}\"{hint}; nothing was silenced",
                estate.name
            ));
        }
    }
    Ok(())
}

/// Writes to stdout; a reader that went away (`| head`) is not worth a panic.
pub(crate) fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// "2025-06-01 14:00 UTC".
pub(crate) fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn add(
    estate: &Estate,
    store: &SilenceStore,
    who: &Who,
    now: DateTime<Utc>,
    args: &SilenceAddArgs,
) -> Result<u8, String> {
    check_services(estate, &args.services)?;
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err("--reason is empty; say why the service is silenced".to_string());
    }
    let start = match &args.start {
        Some(t) => parse_time("start", t)?,
        None => now,
    };
    let until = match (&args.until, args.duration) {
        (Some(t), _) => parse_time("until", t)?,
        (None, Some(d)) => {
            let d = TimeDelta::from_std(d).map_err(|_| "--for is too long".to_string())?;
            start + d
        }
        (None, None) => return Err("say how long: --for DURATION or --until TIME".to_string()),
    };
    if until <= start {
        return Err(format!(
            "the silence would end ({}) before it begins ({})",
            utc(until),
            utc(start)
        ));
    }
    if until <= now {
        return Err(format!("--until {} is already past", utc(until)));
    }
    for id in &args.services {
        let silence = Silence {
            service: id.clone(),
            who: who.short(),
            reason: reason.to_string(),
            start,
            until,
        };
        let replaced = store
            .add(&estate.name, silence, who, now)
            .map_err(|e| e.to_string())?;
        let from = if start > now {
            format!("from {} ", utc(start))
        } else {
            String::new()
        };
        let was = replaced
            .map(|r| format!(" (replaces the one until {})", utc(r.silence.until)))
            .unwrap_or_default();
        emit(&format!(
            "silenced {id} {from}until {} ({}): {reason}, by {}{was}\n",
            utc(until),
            crate::app::short_secs((until - start.max(now)).num_seconds() as f64),
            who.short()
        ));
    }
    Ok(0)
}

fn remove(
    estate: &Estate,
    store: &SilenceStore,
    who: &Who,
    now: DateTime<Utc>,
    services: &[String],
) -> Result<u8, String> {
    let mut code = 0;
    for id in services {
        match store
            .remove(&estate.name, id, who, now)
            .map_err(|e| e.to_string())?
        {
            Some(s) => emit(&format!(
                "lifted the silence of {id} (was until {}, by {}: {})\n",
                utc(s.silence.until),
                s.silence.who,
                s.silence.reason
            )),
            None if estate.service(id).is_none() => {
                eprintln!(
                    "opsdeck: no service \"{id}\" in estate \"{}\", and no silence of that name",
                    estate.name
                );
                code = 1;
            }
            None => {
                eprintln!("opsdeck: {id} has no silence to lift");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn list(
    estate: &Estate,
    store: &SilenceStore,
    who: &Who,
    now: DateTime<Utc>,
    json_out: bool,
) -> Result<u8, String> {
    store.expire(now, who).map_err(|e| e.to_string())?;
    let mine: Vec<Stored> = store
        .read()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|s| s.estate == estate.name)
        .collect();
    if json_out {
        let silences: Vec<_> = mine
            .iter()
            .map(|s| {
                json!({
                    "service": s.silence.service,
                    "by": s.silence.who,
                    "reason": s.silence.reason,
                    "start": s.silence.start,
                    "until": s.silence.until,
                    "added_at": s.added_at,
                    "active": s.silence.active_at(now),
                })
            })
            .collect();
        let windows: Vec<_> = estate
            .maintenance
            .iter()
            .map(|m| {
                let open = m.open_at(now);
                json!({
                    "name": m.name,
                    "services": m.services,
                    "schedule": m.describe(),
                    "time_zone": m.zone.name(),
                    "reason": m.reason,
                    "open": open.is_some(),
                    "open_until": open.map(|o| o.end),
                    "next_start": m.next_after(now).map(|o| o.start),
                })
            })
            .collect();
        let doc = json!({
            "estate": estate.name,
            "generated_at": now,
            "silences": silences,
            "maintenance": windows,
        });
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
        return Ok(0);
    }
    if mine.is_empty() {
        emit(&format!("no silences in estate \"{}\"\n", estate.name));
    }
    for s in &mine {
        let when = if s.silence.active_at(now) {
            format!("until {}", utc(s.silence.until))
        } else {
            format!(
                "planned {} → {}",
                utc(s.silence.start),
                utc(s.silence.until)
            )
        };
        emit(&format!(
            "{:<24} {when}  by {}: {}\n",
            s.silence.service, s.silence.who, s.silence.reason
        ));
    }
    for m in &estate.maintenance {
        let state = match (m.open_at(now), m.next_after(now)) {
            (Some(o), _) => format!("open until {}", utc(o.end)),
            (None, Some(n)) => format!("next {}", utc(n.start)),
            (None, None) => "no opening in the next fortnight".to_string(),
        };
        emit(&format!(
            "maintenance \"{}\" ({}): {}; {state}\n",
            m.name,
            m.describe(),
            m.services.join(", ")
        ));
    }
    Ok(0)
}
