//! A TOML document with a byte span on every key and value, so validation can point at the
//! exact line and column of each problem and report all of them in one run.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// A table whose keys and values carry their source spans.
pub type Table = BTreeMap<Spanned<String>, Spanned<Node>>;

/// One TOML value with spans kept all the way down.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Table(Table),
    Array(Vec<Spanned<Node>>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
}

impl Node {
    /// The TOML type name used in messages ("a string", "an integer").
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Table(_) => "a table",
            Node::Array(_) => "an array",
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number",
            Node::Bool(_) => "a boolean",
            Node::Datetime(_) => "a date-time",
        }
    }

    /// The value as it would be quoted back to the user in a message.
    pub fn shown(&self) -> String {
        match self {
            Node::Str(s) => format!("\"{s}\""),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Datetime(d) => d.clone(),
            Node::Table(_) => "{…}".to_string(),
            Node::Array(_) => "[…]".to_string(),
        }
    }
}

/// The marker key toml uses to pass a date-time through serde.
const DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom("integer is too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut table = Table::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            if key.get_ref() == DATETIME_KEY {
                let value: String = map.next_value()?;
                return Ok(Node::Datetime(value));
            }
            let value = map.next_value::<Spanned<Node>>()?;
            table.insert(key, value);
        }
        Ok(Node::Table(table))
    }
}

/// Parses a whole document; the error carries toml's own message and span.
pub fn parse(source: &str) -> Result<Table, (String, Option<Range<usize>>)> {
    let node: Spanned<Node> = toml::from_str(source).map_err(|e| {
        let mut message = e.message().trim().to_string();
        if message.contains(DATETIME_KEY) {
            // A bare TOML date-time: no key of any file takes one.
            message =
                "a date-time value is not used in opsdeck files; quote it if it is meant as text"
                    .to_string();
        }
        (message, e.span())
    })?;
    match node.into_inner() {
        Node::Table(t) => Ok(t),
        other => Err((
            format!("the document is {}, not a table", other.type_name()),
            None,
        )),
    }
}

/// Line and column (both 1-based) of a byte offset in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spans_of_nested_values() {
        let src = "name = \"x\"\n[[service]]\nid = \"api\"\ndepends_on = [{ id = \"sql\" }]\n";
        let table = parse(src).expect("parses");
        let services = table
            .iter()
            .find(|(k, _)| k.get_ref() == "service")
            .map(|(_, v)| v)
            .expect("service key");
        let Node::Array(items) = services.get_ref() else {
            panic!("array expected")
        };
        let Node::Table(svc) = items[0].get_ref() else {
            panic!("table expected")
        };
        let (_, deps) = svc
            .iter()
            .find(|(k, _)| k.get_ref() == "depends_on")
            .expect("depends_on");
        let Node::Array(deps) = deps.get_ref() else {
            panic!("array expected")
        };
        let Node::Table(dep) = deps[0].get_ref() else {
            panic!("table expected")
        };
        let (_, id) = dep.iter().next().expect("id");
        assert_eq!(id.get_ref(), &Node::Str("sql".into()));
        assert_eq!(line_col(src, id.span().start), (4, 22));
    }

    #[test]
    fn syntax_error_has_a_span() {
        let (msg, span) = parse("name = \n").expect_err("bad toml");
        assert!(!msg.is_empty());
        assert!(span.is_some());
    }

    #[test]
    fn a_bare_date_time_is_explained() {
        let (msg, span) = parse("at = 2026-01-01T00:00:00Z\n").expect_err("date-time");
        assert!(msg.contains("quote it"), "{msg}");
        assert!(span.is_some());
    }
}
