//! Typed reads of keys from a spanned table, turning every wrong type, bad value, missing or
//! unknown key into a diagnostic that names the file, line, column, key and value.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::load::{Diagnostic, Level};
use super::node::{Node, Table, line_col};

/// Collects diagnostics for one file.
pub(crate) struct Ctx<'s> {
    pub file: &'s str,
    pub source: &'s str,
    pub diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    pub fn push(&mut self, level: Level, span: Option<Range<usize>>, message: String) {
        let (line, col) = span.map_or((0, 0), |s| line_col(self.source, s.start));
        self.diags.push(Diagnostic {
            level,
            file: self.file.to_string(),
            line,
            col,
            message,
        });
    }

    pub fn error(&mut self, span: Range<usize>, message: String) {
        self.push(Level::Error, Some(span), message);
    }

    pub fn warning(&mut self, span: Range<usize>, message: String) {
        self.push(Level::Warning, Some(span), message);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.level == Level::Error)
    }
}

/// The keys of one table, read one by one; whatever is left unread is reported as unknown.
pub(crate) struct Fields<'t> {
    table: &'t Table,
    used: BTreeSet<&'t str>,
    /// How messages name this table: `service "api"`, `[gcp]`.
    pub what: String,
    pub span: Range<usize>,
}

impl<'t> Fields<'t> {
    pub fn new(table: &'t Table, what: String, span: Range<usize>) -> Self {
        Fields {
            table,
            used: BTreeSet::new(),
            what,
            span,
        }
    }

    /// The raw value of a key, marking it read.
    pub fn get(&mut self, key: &str) -> Option<&'t Spanned<Node>> {
        let (k, v) = self.table.iter().find(|(k, _)| k.get_ref() == key)?;
        self.used.insert(k.get_ref().as_str());
        Some(v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.keys().any(|k| k.get_ref() == key)
    }

    fn wrong_type(&self, ctx: &mut Ctx, key: &str, v: &Spanned<Node>, want: &str) {
        ctx.error(
            v.span(),
            format!(
                "{}: key '{key}' must be {want}, found {} {}",
                self.what,
                v.get_ref().type_name(),
                v.get_ref().shown()
            ),
        );
    }

    pub fn missing(&self, ctx: &mut Ctx, key: &str, hint: &str) {
        ctx.error(
            self.span.clone(),
            format!("{} is missing key '{key}'{hint}", self.what),
        );
    }

    pub fn string(&mut self, ctx: &mut Ctx, key: &str) -> Option<Spanned<String>> {
        let v = self.get(key)?;
        if let Node::Str(s) = v.get_ref() {
            Some(Spanned::new(v.span(), s.clone()))
        } else {
            self.wrong_type(ctx, key, v, "a string");
            None
        }
    }

    pub fn required_string(&mut self, ctx: &mut Ctx, key: &str) -> Option<Spanned<String>> {
        if !self.has(key) {
            self.missing(ctx, key, "");
            return None;
        }
        self.string(ctx, key)
    }

    pub fn int(&mut self, ctx: &mut Ctx, key: &str) -> Option<Spanned<i64>> {
        let v = self.get(key)?;
        if let Node::Int(i) = v.get_ref() {
            Some(Spanned::new(v.span(), *i))
        } else {
            self.wrong_type(ctx, key, v, "an integer");
            None
        }
    }

    /// A non-negative integer.
    pub fn count(&mut self, ctx: &mut Ctx, key: &str) -> Option<u64> {
        let v = self.int(ctx, key)?;
        if let Ok(n) = u64::try_from(*v.get_ref()) {
            Some(n)
        } else {
            ctx.error(
                v.span(),
                format!(
                    "{}: key '{key}' must not be negative, found {}",
                    self.what,
                    v.get_ref()
                ),
            );
            None
        }
    }

    pub fn bool(&mut self, ctx: &mut Ctx, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        if let Node::Bool(b) = v.get_ref() {
            Some(*b)
        } else {
            self.wrong_type(ctx, key, v, "true or false");
            None
        }
    }

    /// A duration written with its unit: "10m", "500ms", "1h30m".
    pub fn duration(&mut self, ctx: &mut Ctx, key: &str) -> Option<Duration> {
        let v = self.get(key)?;
        match v.get_ref() {
            Node::Str(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) => Some(d),
                Err(_) => {
                    ctx.error(
                        v.span(),
                        format!(
                            "{}: key '{key}' is \"{s}\", which is not a duration; write it with a unit, like \"30s\", \"10m\" or \"500ms\"",
                            self.what
                        ),
                    );
                    None
                }
            },
            Node::Int(i) => {
                ctx.error(
                    v.span(),
                    format!(
                        "{}: key '{key}' is {i} without a unit; write it as a string with one, like \"{i}s\" or \"{i}m\"",
                        self.what
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(ctx, key, v, "a duration like \"10m\"");
                None
            }
        }
    }

    /// An array of strings.
    pub fn strings(&mut self, ctx: &mut Ctx, key: &str) -> Option<Vec<String>> {
        let v = self.get(key)?;
        let Node::Array(items) = v.get_ref() else {
            self.wrong_type(ctx, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            if let Node::Str(s) = item.get_ref() {
                out.push(s.clone());
            } else {
                self.wrong_type(ctx, key, item, "an array of strings");
            }
        }
        Some(out)
    }

    /// Reports every key that was not read, with the closest known key as a hint.
    pub fn finish(
        self,
        ctx: &mut Ctx,
        known: &[&str],
        extra_hint: &dyn Fn(&str) -> Option<String>,
    ) {
        for key in self.table.keys() {
            let name = key.get_ref().as_str();
            if self.used.contains(name) {
                continue;
            }
            let hint = extra_hint(name)
                .or_else(|| {
                    closest(name, known.iter().copied()).map(|k| format!(" (did you mean '{k}'?)"))
                })
                .unwrap_or_default();
            ctx.error(
                key.span(),
                format!("{}: unknown key '{name}'{hint}", self.what),
            );
        }
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let known = ["fallback", "depends_on", "instance"];
        assert_eq!(closest("falback", known.iter().copied()), Some("fallback"));
        assert_eq!(closest("instnace", known.iter().copied()), Some("instance"));
        assert_eq!(closest("zzz", known.iter().copied()), None);
    }
}
