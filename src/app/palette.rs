//! The `:` command line: which commands exist and what a typed line asks for. Pure; the
//! [`App`](super::App) carries the result out. A command may be shortened to any prefix that
//! names only it (`:topo`, `:ev`); `:q` is quit, as in vi.

use super::View;
use super::filter::Filter;

/// A command of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// What follows the name, for help (`ID`, `TEXT`).
    pub args: &'static str,
    pub what: &'static str,
}

/// Every command, in the order help lists them.
pub const COMMANDS: [Spec; 21] = [
    spec("map", &["home", "failures"], "", "the failure map"),
    spec(
        "topology",
        &[],
        "",
        "regions side by side, with the dependency edges",
    ),
    spec(
        "queues",
        &[],
        "",
        "every queue: depth, age, consumers, rates, ETA",
    ),
    spec(
        "detail",
        &[],
        "[ID]",
        "one service in full (the selected one, or ID)",
    ),
    spec("events", &[], "", "status transitions, newest first"),
    spec(
        "region",
        &[],
        "ID",
        "only this region (an estate id or a GCP region)",
    ),
    spec("sev", &[], "N", "only SEV N or worse"),
    spec(
        "kind",
        &[],
        "KIND",
        "only this kind (cloud_sql, rabbitmq_queue, …)",
    ),
    spec(
        "status",
        &[],
        "WORD",
        "only this status (down, degraded, impacted, stale, …)",
    ),
    spec("filter", &[], "TEXT", "set the whole filter, as with /"),
    spec("clear", &["nofilter"], "", "remove the filter"),
    spec(
        "freeze",
        &["unfreeze"],
        "",
        "hold the screen still, or let it move again",
    ),
    spec("refresh", &[], "", "probe every service now"),
    spec(
        "silence",
        &["ack"],
        "[ID] DURATION REASON",
        "silence a service (the selected one, or ID) for DURATION, saying why",
    ),
    spec(
        "unsilence",
        &[],
        "[ID]",
        "lift the silence of a service (the selected one, or ID)",
    ),
    spec(
        "runbook",
        &["runbooks"],
        "[ID]",
        "the runbooks for the selected service, or the plan of runbook ID on it",
    ),
    spec(
        "bell",
        &[],
        "[on|off]",
        "ring the terminal bell for new SEV 1-2 problems, or not",
    ),
    spec(
        "copy",
        &["yank"],
        "",
        "copy the selected service's summary (OSC 52)",
    ),
    spec(
        "theme",
        &[],
        "NAME",
        "switch theme (default-dark, light, high-contrast, …)",
    ),
    spec("help", &[], "", "every key and command"),
    spec("quit", &["q", "exit"], "", "leave the console"),
];

const fn spec(
    name: &'static str,
    aliases: &'static [&'static str],
    args: &'static str,
    what: &'static str,
) -> Spec {
    Spec {
        name,
        aliases,
        args,
        what,
    }
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    Show(View),
    /// Open the detail view, of this service id if given.
    Detail(Option<String>),
    /// Replace the whole filter with this text.
    Filter(String),
    /// Set one key of the filter (`region`, `sev`, `kind`, `status`), keeping the rest.
    Term(&'static str, String),
    /// Toggle freezing, or set it (`:unfreeze` → `Some(false)`).
    Freeze(Option<bool>),
    Refresh,
    Copy,
    Help,
    Theme(String),
    /// Silence a service (this id, else the selected one) for a while, saying why.
    Silence {
        service: Option<String>,
        duration: std::time::Duration,
        reason: String,
    },
    /// Lift the silence of a service (this id, else the selected one).
    Unsilence(Option<String>),
    /// The runbooks for the selected service, or the plan of this runbook on it.
    Runbook(Option<String>),
    /// Turn the bell on or off (`None`: toggle).
    Bell(Option<bool>),
    Quit,
}

/// Parses one command line (without the `:`).
pub fn parse(line: &str) -> Result<Order, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    if word.is_empty() {
        return Err("type a command, e.g. :queues, :region ID, :sev 1 (Tab completes)".into());
    }
    let (spec, typed) = find(word)?;
    let needs = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!(":{} needs {what}", spec.name))
        } else {
            Ok(rest.to_string())
        }
    };
    let no_args = |order: Order| -> Result<Order, String> {
        if rest.is_empty() {
            Ok(order)
        } else {
            Err(format!(":{} takes nothing after it", spec.name))
        }
    };
    match spec.name {
        "map" => no_args(Order::Show(View::FailureMap)),
        "topology" => no_args(Order::Show(View::Topology)),
        "queues" => no_args(Order::Show(View::Queues)),
        "events" => no_args(Order::Show(View::Events)),
        "detail" => Ok(Order::Detail((!rest.is_empty()).then(|| rest.to_string()))),
        "region" | "sev" | "kind" | "status" => {
            let value = needs(spec.args)?;
            let key = match spec.name {
                "region" => "region",
                "sev" => "sev",
                "kind" => "kind",
                _ => "status",
            };
            let probe = format!("{key}:{}", value.replace(' ', ","));
            match Filter::parse(&probe).1 {
                Some(problem) => Err(problem),
                None => Ok(Order::Term(key, value.replace(' ', ","))),
            }
        }
        "filter" => {
            let problem = Filter::parse(rest).1;
            problem.map_or_else(|| Ok(Order::Filter(rest.to_string())), Err)
        }
        "clear" => no_args(Order::Filter(String::new())),
        "freeze" => no_args(Order::Freeze(match typed {
            "unfreeze" => Some(false),
            _ => None,
        })),
        "refresh" => no_args(Order::Refresh),
        "copy" => no_args(Order::Copy),
        "theme" => needs("a theme name").map(Order::Theme),
        "silence" => parse_silence(rest),
        "unsilence" => Ok(Order::Unsilence(
            (!rest.is_empty()).then(|| rest.to_string()),
        )),
        "runbook" => Ok(Order::Runbook((!rest.is_empty()).then(|| rest.to_string()))),
        "bell" => match rest.to_lowercase().as_str() {
            "" => Ok(Order::Bell(None)),
            "on" => Ok(Order::Bell(Some(true))),
            "off" => Ok(Order::Bell(Some(false))),
            other => Err(format!(":bell takes on or off, not \"{other}\"")),
        },
        "help" => no_args(Order::Help),
        _ => no_args(Order::Quit),
    }
}

/// `:silence [ID] DURATION REASON`: the id may be left out (the selected service); the
/// duration is written with its unit; the reason is required.
fn parse_silence(rest: &str) -> Result<Order, String> {
    let usage = ":silence needs how long and why, like :silence 2h planned failover";
    let duration = |w: &str| humantime::parse_duration(w).ok().filter(|d| !d.is_zero());
    let mut words = rest.split_whitespace();
    let first = words.next().ok_or_else(|| usage.to_string())?;
    let (service, d) = match duration(first) {
        Some(d) => (None, d),
        None => {
            let second = words.next().ok_or_else(|| usage.to_string())?;
            let d = duration(second).ok_or_else(|| {
                format!("\"{second}\" is not a duration; write it with a unit, like 30m or 2h")
            })?;
            (Some(first.to_string()), d)
        }
    };
    let reason = words.collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        return Err(":silence needs a reason after the duration: say why".to_string());
    }
    Ok(Order::Silence {
        service,
        duration: d,
        reason,
    })
}

/// The command a typed word names (exactly, by alias, or as the only match of a prefix), and
/// the name or alias it matched.
fn find(word: &str) -> Result<(Spec, &'static str), String> {
    let word = word.to_lowercase();
    let names = || {
        COMMANDS.iter().flat_map(|s| {
            std::iter::once(s.name)
                .chain(s.aliases.iter().copied())
                .map(move |n| (*s, n))
        })
    };
    if let Some(found) = names().find(|(_, n)| *n == word) {
        return Ok(found);
    }
    let mut matches: Vec<(Spec, &str)> = names().filter(|(_, n)| n.starts_with(&word)).collect();
    matches.dedup_by_key(|(s, _)| s.name);
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no command ':{word}' (try :help for the list)")),
        many => Err(format!(
            ":{word} could be {}",
            many.iter()
                .map(|(s, _)| format!(":{}", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Completes the command word of a line: the full line when one command fits, else the
/// line unchanged. The second value lists every command that fits.
pub fn complete(line: &str) -> (String, Vec<&'static str>) {
    let trimmed = line.trim_start();
    if trimmed.contains(char::is_whitespace) {
        return (line.to_string(), Vec::new());
    }
    let word = trimmed.to_lowercase();
    let fits: Vec<&'static str> = COMMANDS
        .iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with(&word))
        .collect();
    match fits.as_slice() {
        [one] => {
            let spec = COMMANDS.iter().find(|s| s.name == *one);
            let space = if spec.is_some_and(|s| !s.args.is_empty()) {
                " "
            } else {
                ""
            };
            (format!("{one}{space}"), fits)
        }
        _ => (line.to_string(), fits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_by_name_prefix_and_alias() {
        assert_eq!(parse("queues"), Ok(Order::Show(View::Queues)));
        assert_eq!(parse(" topo "), Ok(Order::Show(View::Topology)));
        assert_eq!(parse("home"), Ok(Order::Show(View::FailureMap)));
        assert_eq!(parse("ev"), Ok(Order::Show(View::Events)));
        assert_eq!(parse("q"), Ok(Order::Quit), "vi's :q");
    }

    #[test]
    fn filter_terms_are_checked_before_they_apply() {
        assert_eq!(
            parse("region africa-south1"),
            Ok(Order::Term("region", "africa-south1".into()))
        );
        assert_eq!(parse("sev 1"), Ok(Order::Term("sev", "1".into())));
        assert_eq!(
            parse("status down degraded"),
            Ok(Order::Term("status", "down,degraded".into()))
        );
        assert!(parse("sev 7").is_err_and(|e| e.contains("1 to 4")));
        assert!(parse("region").is_err_and(|e| e.contains(":region needs ID")));
        assert_eq!(
            parse("filter kind:cloud_sql"),
            Ok(Order::Filter("kind:cloud_sql".into()))
        );
        assert_eq!(parse("clear"), Ok(Order::Filter(String::new())));
    }

    #[test]
    fn detail_freeze_theme_and_the_rest() {
        assert_eq!(parse("detail"), Ok(Order::Detail(None)));
        assert_eq!(parse("detail sql"), Ok(Order::Detail(Some("sql".into()))));
        assert_eq!(parse("freeze"), Ok(Order::Freeze(None)));
        assert_eq!(parse("unfreeze"), Ok(Order::Freeze(Some(false))));
        assert_eq!(parse("theme light"), Ok(Order::Theme("light".into())));
        assert_eq!(parse("yank"), Ok(Order::Copy));
        assert_eq!(parse("refresh"), Ok(Order::Refresh));
    }

    #[test]
    fn mistakes_say_what_went_wrong() {
        assert!(parse("").is_err());
        assert!(parse("bogus").is_err_and(|e| e.contains("no command ':bogus'")));
        assert!(parse("re").is_err_and(|e| e.contains(":region") && e.contains(":refresh")));
        assert!(parse("queues now").is_err_and(|e| e.contains("takes nothing")));
    }

    #[test]
    fn silence_takes_an_optional_id_a_duration_and_a_reason() {
        assert_eq!(
            parse("silence 2h planned failover"),
            Ok(Order::Silence {
                service: None,
                duration: std::time::Duration::from_secs(7200),
                reason: "planned failover".into()
            })
        );
        assert_eq!(
            parse("si sql 30m db patch"),
            Ok(Order::Silence {
                service: Some("sql".into()),
                duration: std::time::Duration::from_secs(1800),
                reason: "db patch".into()
            })
        );
        assert!(parse("silence sql 2h").is_err_and(|e| e.contains("reason")));
        assert!(parse("silence sql soon x").is_err_and(|e| e.contains("not a duration")));
        assert!(parse("silence").is_err_and(|e| e.contains("how long and why")));
        assert_eq!(parse("unsilence"), Ok(Order::Unsilence(None)));
        assert_eq!(
            parse("unsilence sql"),
            Ok(Order::Unsilence(Some("sql".into())))
        );
        assert_eq!(parse("bell off"), Ok(Order::Bell(Some(false))));
        assert_eq!(parse("runbook"), Ok(Order::Runbook(None)));
        assert_eq!(
            parse("runbook cloud-sql-failover"),
            Ok(Order::Runbook(Some("cloud-sql-failover".into())))
        );
        assert!(parse("bell loud").is_err());
    }

    #[test]
    fn tab_completes_a_unique_command() {
        assert_eq!(complete("que"), ("queues".to_string(), vec!["queues"]));
        assert_eq!(complete("reg").0, "region ");
        let (line, fits) = complete("re");
        assert_eq!(line, "re");
        assert_eq!(fits, vec!["region", "refresh"]);
        assert_eq!(complete("sev 1").0, "sev 1");
    }

    #[test]
    fn every_command_parses_by_its_own_name() {
        for spec in COMMANDS {
            let line = match spec.args {
                "" | "[ID]" | "[on|off]" => spec.name.to_string(),
                "[ID] DURATION REASON" => format!("{} 2h planned work", spec.name),
                "N" => format!("{} 2", spec.name),
                "WORD" => format!("{} down", spec.name),
                _ => format!("{} x", spec.name),
            };
            assert!(parse(&line).is_ok(), "{line}");
        }
    }
}
