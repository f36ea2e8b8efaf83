//! Reading scenario files: TOML with spans, checked key by key, every problem one sentence
//! naming the file, line, key and bad value. Pure.

use std::ops::Range;
use std::time::Duration;

use serde_json::Value;
use toml::Spanned;

use super::{Event, Scenario, http_set_problem, sim_set_problem};
use crate::estate::Kind;
use crate::estate::node::{self, Node, Table};

/// The fastest scenario clock accepted (simulated seconds per wall-clock second).
const MAX_SPEED: f64 = 1_000_000.0;

/// Parses a scenario file; `file` names it in messages.
pub fn parse(source: &str, file: &str) -> Result<Scenario, String> {
    let p = Reader { source, file };
    let table = node::parse(source)
        .map_err(|(message, span)| p.at(span, &format!("this is not valid TOML: {message}")))?;
    p.unknown_keys(&table, "", &["name", "summary", "estate", "speed", "event"])?;

    let name = match p.string(&table, "name", "")? {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            return Err(format!(
                "{file}: key 'name' is missing; give the scenario a name"
            ));
        }
    };
    let summary = p.string(&table, "summary", "")?.unwrap_or_default();
    let estate = p.string(&table, "estate", "")?;
    let speed = match entry(&table, "speed") {
        None => 1.0,
        Some((_, v)) => {
            let speed = match v.get_ref() {
                Node::Int(i) => *i as f64,
                Node::Float(f) => *f,
                other => {
                    return Err(p.at(
                        Some(v.span()),
                        &format!(
                            "key 'speed' is {}, which is not a number; write simulated seconds per wall-clock second, like 60",
                            other.shown()
                        ),
                    ));
                }
            };
            if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
                return Err(p.at(
                    Some(v.span()),
                    &format!(
                        "key 'speed' is {speed}, which is not between 0 (excluded) and {MAX_SPEED}"
                    ),
                ));
            }
            speed
        }
    };

    let mut events = Vec::new();
    if let Some((_, v)) = entry(&table, "event") {
        let Node::Array(items) = v.get_ref() else {
            return Err(p.at(
                Some(v.span()),
                &format!(
                    "key 'event' is {}; write each event as an [[event]] table",
                    v.get_ref().type_name()
                ),
            ));
        };
        for (n, item) in items.iter().enumerate() {
            events.push(p.event(item, n + 1)?);
        }
    }

    Ok(Scenario {
        name,
        summary,
        estate,
        speed,
        events,
        file: file.to_string(),
    })
}

/// The key and value named `key` in a table.
fn entry<'t>(table: &'t Table, key: &str) -> Option<(&'t Spanned<String>, &'t Spanned<Node>)> {
    table.iter().find(|(k, _)| k.get_ref() == key)
}

/// Reads one file, turning every problem into a sentence that points at its line.
struct Reader<'a> {
    source: &'a str,
    file: &'a str,
}

impl Reader<'_> {
    fn at(&self, span: Option<Range<usize>>, message: &str) -> String {
        match span {
            Some(span) => {
                let (line, col) = node::line_col(self.source, span.start);
                format!("{}:{line}:{col}: {message}", self.file)
            }
            None => format!("{}: {message}", self.file),
        }
    }

    fn line(&self, span: &Range<usize>) -> usize {
        node::line_col(self.source, span.start).0
    }

    fn unknown_keys(&self, table: &Table, what: &str, known: &[&str]) -> Result<(), String> {
        for key in table.keys() {
            let k = key.get_ref().as_str();
            if known.contains(&k) {
                continue;
            }
            let hint = closest(k, known).map_or_else(
                || format!("expected one of {}", known.join(", ")),
                |c| format!("did you mean '{c}'?"),
            );
            return Err(self.at(
                Some(key.span()),
                &format!("{what}unknown key '{k}'; {hint}"),
            ));
        }
        Ok(())
    }

    fn string(&self, table: &Table, key: &str, what: &str) -> Result<Option<String>, String> {
        match entry(table, key) {
            None => Ok(None),
            Some((_, v)) => match v.get_ref() {
                Node::Str(s) => Ok(Some(s.clone())),
                other => Err(self.at(
                    Some(v.span()),
                    &format!(
                        "{what}key '{key}' is {}, which is not a string; put it in quotes",
                        other.shown()
                    ),
                )),
            },
        }
    }

    fn event(&self, item: &Spanned<Node>, n: usize) -> Result<Event, String> {
        let what = format!("event {n}: ");
        let Node::Table(table) = item.get_ref() else {
            return Err(self.at(
                Some(item.span()),
                &format!("event {n} is {}, not a table", item.get_ref().type_name()),
            ));
        };
        self.unknown_keys(
            table,
            &what,
            &[
                "at",
                "service",
                "kind",
                "url_contains",
                "region",
                "set",
                "unset",
                "note",
            ],
        )?;
        let line = table
            .keys()
            .map(|k| self.line(&k.span()))
            .min()
            .unwrap_or_else(|| self.line(&item.span()));

        let at = match entry(table, "at") {
            None => Duration::ZERO,
            Some((_, v)) => match v.get_ref() {
                Node::Str(s) => humantime::parse_duration(s).map_err(|_| {
                    self.at(
                        Some(v.span()),
                        &format!("{what}key 'at' is \"{s}\", which is not a duration (like \"0s\", \"90s\" or \"5m\")"),
                    )
                })?,
                other => {
                    return Err(self.at(
                        Some(v.span()),
                        &format!(
                            "{what}key 'at' is {}, which is not a duration; write it in quotes with a unit, like \"90s\"",
                            other.shown()
                        ),
                    ));
                }
            },
        };
        let service = self.string(table, "service", &what)?;
        let kind = match entry(table, "kind") {
            None => None,
            Some((_, v)) => {
                let Node::Str(s) = v.get_ref() else {
                    return Err(self.at(
                        Some(v.span()),
                        &format!(
                            "{what}key 'kind' is {}, which is not a string",
                            v.get_ref().shown()
                        ),
                    ));
                };
                let Some(kind) = Kind::parse(s) else {
                    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    let hint = closest(s, &names).map_or_else(
                        || format!("use one of {}", names.join(", ")),
                        |c| format!("did you mean \"{c}\"?"),
                    );
                    return Err(self.at(
                        Some(v.span()),
                        &format!(
                            "{what}key 'kind' is \"{s}\", which is not a kind of service; {hint}"
                        ),
                    ));
                };
                Some(kind)
            }
        };
        let url_contains = self.string(table, "url_contains", &what)?;
        let region = self.string(table, "region", &what)?;
        if service.is_none() && kind.is_none() && url_contains.is_none() && region.is_none() {
            return Err(self.at(
                Some(item.span()),
                &format!("event {n} has no 'service', 'kind', 'url_contains' or 'region'; say which services it changes"),
            ));
        }
        let note = self.string(table, "note", &what)?;
        let unset = self.paths(table, "unset", &what)?;

        let Some((_, set_node)) = entry(table, "set") else {
            if !unset.is_empty() {
                return Ok(Event {
                    at,
                    service,
                    kind,
                    url_contains,
                    region,
                    set: Vec::new(),
                    unset,
                    note,
                    line,
                });
            }
            return Err(self.at(
                Some(item.span()),
                &format!(
                    "event {n} has no 'set'; say what changes, like set = {{ state = \"FAILED\" }}"
                ),
            ));
        };
        let Node::Table(set_table) = set_node.get_ref() else {
            return Err(self.at(
                Some(set_node.span()),
                &format!(
                    "{what}key 'set' is {}, which is not a table; write it like set = {{ state = \"FAILED\" }}",
                    set_node.get_ref().shown()
                ),
            ));
        };
        let mut set = Vec::new();
        self.flatten(set_table, "", &what, &mut set)?;
        if set.is_empty() {
            return Err(self.at(
                Some(set_node.span()),
                &format!("{what}key 'set' is empty; say what changes"),
            ));
        }
        if kind == Some(Kind::Http) {
            for (key, value) in &set {
                if let Some(problem) = http_set_problem(key, value) {
                    return Err(self.at(Some(set_node.span()), &format!("{what}{problem}")));
                }
            }
        }
        for (key, value) in &set {
            if let Some(problem) = sim_set_problem(key, value) {
                return Err(self.at(Some(set_node.span()), &format!("{what}{problem}")));
            }
        }

        Ok(Event {
            at,
            service,
            kind,
            url_contains,
            region,
            set,
            unset,
            note,
            line,
        })
    }

    /// A list of dotted paths (`unset = ["secondaryGceZone"]`); none when the key is absent.
    fn paths(&self, table: &Table, key: &str, what: &str) -> Result<Vec<String>, String> {
        let Some((_, v)) = entry(table, key) else {
            return Ok(Vec::new());
        };
        let wrong = |shown: String| {
            self.at(
                Some(v.span()),
                &format!("{what}key '{key}' is {shown}, which is not a list of dotted paths like [\"secondaryGceZone\"]"),
            )
        };
        let Node::Array(items) = v.get_ref() else {
            return Err(wrong(v.get_ref().shown()));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                Node::Str(s) if !s.split('.').any(str::is_empty) => Ok(s.clone()),
                other => Err(wrong(other.shown())),
            })
            .collect()
    }

    /// Turns `{ a = { b = 1 } }` and `{ "a.b" = 1 }` alike into `("a.b", 1)`: a table sets
    /// each of its fields rather than replacing the whole object (except `body`, an http
    /// service's whole answer).
    fn flatten(
        &self,
        table: &Table,
        prefix: &str,
        what: &str,
        out: &mut Vec<(String, Value)>,
    ) -> Result<(), String> {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().clone()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            if path.split('.').any(str::is_empty) {
                return Err(self.at(
                    Some(key.span()),
                    &format!("{what}set key \"{path}\" has an empty part; write dotted paths like \"terminalCondition.state\""),
                ));
            }
            match value.get_ref() {
                // An http service's `body` is the whole answer, not fields to merge.
                Node::Table(inner) if path != "body" => {
                    self.flatten(inner, &path, what, out)?;
                }
                other => {
                    let json = to_json(other).map_err(|problem| {
                        self.at(
                            Some(value.span()),
                            &format!("{what}set key '{path}' {problem}"),
                        )
                    })?;
                    out.push((path, json));
                }
            }
        }
        Ok(())
    }
}

/// A TOML value as the JSON the simulated API would carry.
fn to_json(node: &Node) -> Result<Value, String> {
    Ok(match node {
        Node::Str(s) | Node::Datetime(s) => Value::String(s.clone()),
        Node::Int(i) => Value::from(*i),
        Node::Bool(b) => Value::Bool(*b),
        Node::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("is {f}, which JSON cannot carry"))?,
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| to_json(i.get_ref()))
                .collect::<Result<_, _>>()?,
        ),
        Node::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Ok((k.get_ref().clone(), to_json(v.get_ref())?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}
