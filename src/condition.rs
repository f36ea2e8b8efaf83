//! Conditions written in estate and runbook files (`primary.state == "ENABLED"`), parsed once
//! and evaluated against a JSON document. Pure: no IO.
//!
//! Grammar: comparisons `path OP literal` (`==`, `!=`, `<`, `<=`, `>`, `>=`), joined with
//! `&&`/`and` and `||`/`or`, negated with `!`/`not`, grouped with parentheses. A path is dotted
//! (`status.conditions[0].type`); a bare path is true when it is present, not false, not null,
//! not zero and not empty. Numbers compare numerically even when the API sends them as strings
//! (Google's int64 fields).

use std::fmt;

use serde_json::Value;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, Op, Operand),
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Segment>),
    Lit(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Why a condition does not parse, with the character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at character {}", self.message, self.position + 1)
    }
}

impl std::error::Error for ParseError {}

impl Condition {
    pub fn parse(source: &str) -> Result<Condition, ParseError> {
        let tokens = lex(source)?;
        let mut p = Parser { tokens, pos: 0 };
        let expr = p.or()?;
        if let Some((at, tok)) = p.tokens.get(p.pos) {
            return Err(ParseError {
                position: *at,
                message: format!("unexpected {tok}"),
            });
        }
        Ok(Condition {
            source: source.to_string(),
            expr,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition against a document.
    pub fn eval(&self, doc: &Value) -> bool {
        eval(&self.expr, doc)
    }

    /// The paths the condition reads, with the value each has in `doc`: used to explain a
    /// failed condition ("primary.state is \"DISABLED\"").
    pub fn explain(&self, doc: &Value) -> String {
        let mut parts = Vec::new();
        collect_paths(&self.expr, &mut |path| {
            let shown =
                resolve(doc, path).map_or_else(|| "missing".to_string(), ToString::to_string);
            let name = path_name(path);
            let line = format!("{name} is {shown}");
            if !parts.contains(&line) {
                parts.push(line);
            }
        });
        parts.join(", ")
    }
}

fn collect_paths(e: &Expr, f: &mut dyn FnMut(&[Segment])) {
    match e {
        Expr::Or(a, b) | Expr::And(a, b) => {
            collect_paths(a, f);
            collect_paths(b, f);
        }
        Expr::Not(a) => collect_paths(a, f),
        Expr::Cmp(a, _, b) => {
            for o in [a, b] {
                if let Operand::Path(p) = o {
                    f(p);
                }
            }
        }
        Expr::Truthy(Operand::Path(p)) => f(p),
        Expr::Truthy(Operand::Lit(_)) => {}
    }
}

fn path_name(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn resolve<'a>(doc: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path {
        cur = match seg {
            Segment::Key(k) => cur.get(k)?,
            Segment::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

fn value_of(o: &Operand, doc: &Value) -> Value {
    match o {
        Operand::Path(p) => resolve(doc, p).cloned().unwrap_or(Value::Null),
        Operand::Lit(v) => v.clone(),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (as_number(a), as_number(b)) {
        // Only numeric when one side really is a number: "007" == "7" stays false.
        (Some(x), Some(y)) if a.is_number() || b.is_number() => (x - y).abs() < f64::EPSILON,
        _ => false,
    }
}

fn eval(e: &Expr, doc: &Value) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Not(a) => !eval(a, doc),
        Expr::Truthy(o) => truthy(&value_of(o, doc)),
        Expr::Cmp(a, op, b) => {
            let (a, b) = (value_of(a, doc), value_of(b, doc));
            match op {
                Op::Eq => equal(&a, &b),
                Op::Ne => !equal(&a, &b),
                _ => {
                    let ord = match (as_number(&a), as_number(&b)) {
                        (Some(x), Some(y)) => x.partial_cmp(&y),
                        _ => match (&a, &b) {
                            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                            _ => None,
                        },
                    };
                    ord.is_some_and(|o| match op {
                        Op::Lt => o.is_lt(),
                        Op::Le => o.is_le(),
                        Op::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    })
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    Not,
    Open,
    Close,
    Dot,
    LBracket,
    RBracket,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Str(s) => write!(f, "\"{s}\""),
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Op(_) => f.write_str("comparison"),
            Tok::And => f.write_str("'&&'"),
            Tok::Or => f.write_str("'||'"),
            Tok::Not => f.write_str("'!'"),
            Tok::Open => f.write_str("'('"),
            Tok::Close => f.write_str("')'"),
            Tok::Dot => f.write_str("'.'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |position: usize, message: &str| ParseError {
        position,
        message: message.to_string(),
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '(' => out.push((start, Tok::Open)),
            ')' => out.push((start, Tok::Close)),
            '.' => out.push((start, Tok::Dot)),
            '[' => out.push((start, Tok::LBracket)),
            ']' => out.push((start, Tok::RBracket)),
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "unterminated string")),
                        Some('\\') if chars.get(i + 1).is_some() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(ch) if *ch == quote => break,
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            _ if two == "==" => {
                out.push((start, Tok::Op(Op::Eq)));
                i += 1;
            }
            _ if two == "!=" => {
                out.push((start, Tok::Op(Op::Ne)));
                i += 1;
            }
            _ if two == "<=" => {
                out.push((start, Tok::Op(Op::Le)));
                i += 1;
            }
            _ if two == ">=" => {
                out.push((start, Tok::Op(Op::Ge)));
                i += 1;
            }
            _ if two == "&&" => {
                out.push((start, Tok::And));
                i += 1;
            }
            _ if two == "||" => {
                out.push((start, Tok::Or));
                i += 1;
            }
            '<' => out.push((start, Tok::Op(Op::Lt))),
            '>' => out.push((start, Tok::Op(Op::Gt))),
            '!' => out.push((start, Tok::Not)),
            '=' => return Err(err(start, "a single '=' (compare with '==')")),
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_ascii_digit() || chars[j] == '.' || chars[j] == '_')
                {
                    j += 1;
                }
                let text: String = chars[i..j].iter().filter(|c| **c != '_').collect();
                let n = text
                    .parse()
                    .map_err(|_| err(start, &format!("'{text}' is not a number")))?;
                out.push((start, Tok::Num(n)));
                i = j;
                continue;
            }
            c if c.is_alphanumeric() || c == '_' || c == '@' || c == '$' => {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_alphanumeric() || matches!(chars[j], '_' | '-' | '@' | '$'))
                {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                out.push((
                    start,
                    match word.as_str() {
                        "and" => Tok::And,
                        "or" => Tok::Or,
                        "not" => Tok::Not,
                        _ => Tok::Ident(word),
                    },
                ));
                i = j;
                continue;
            }
            other => return Err(err(start, &format!("unexpected character '{other}'"))),
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn here(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(0, |(at, _)| *at)
    }

    fn fail<T>(&self, message: &str) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.here(),
            message: message.to_string(),
        })
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return self.fail("missing ')'");
                }
                self.pos += 1;
                Ok(e)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.pos += 1;
            let right = self.operand()?;
            Ok(Expr::Cmp(left, op, right))
        } else {
            Ok(Expr::Truthy(left))
        }
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return self.fail("the condition ends too early");
        };
        self.pos += 1;
        match tok {
            Tok::Str(s) => Ok(Operand::Lit(Value::String(s))),
            Tok::Num(n) => Ok(Operand::Lit(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            Tok::Ident(w) if w == "true" => Ok(Operand::Lit(Value::Bool(true))),
            Tok::Ident(w) if w == "false" => Ok(Operand::Lit(Value::Bool(false))),
            Tok::Ident(w) if w == "null" => Ok(Operand::Lit(Value::Null)),
            Tok::Ident(first) => {
                let mut path = vec![Segment::Key(first)];
                loop {
                    match self.peek() {
                        Some(Tok::Dot) => {
                            self.pos += 1;
                            match self.peek().cloned() {
                                Some(Tok::Ident(k)) => {
                                    self.pos += 1;
                                    path.push(Segment::Key(k));
                                }
                                _ => return self.fail("a name after '.'"),
                            }
                        }
                        Some(Tok::LBracket) => {
                            self.pos += 1;
                            let Some(Tok::Num(n)) = self.peek().cloned() else {
                                return self.fail("an index after '['");
                            };
                            self.pos += 1;
                            if self.peek() != Some(&Tok::RBracket) {
                                return self.fail("missing ']'");
                            }
                            self.pos += 1;
                            path.push(Segment::Index(n as usize));
                        }
                        _ => break,
                    }
                }
                Ok(Operand::Path(path))
            }
            other => {
                self.pos -= 1;
                self.fail(&format!("expected a name or a value, found {other}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(cond: &str, doc: &Value) -> bool {
        Condition::parse(cond).expect("parses").eval(doc)
    }

    #[test]
    fn compares_strings_numbers_and_int64_strings() {
        let doc = json!({"primary": {"state": "ENABLED"}, "stats": {"tasksCount": "1532"}, "n": 3});
        assert!(check(r#"primary.state == "ENABLED""#, &doc));
        assert!(!check(r#"primary.state != "ENABLED""#, &doc));
        assert!(check("stats.tasksCount > 1000", &doc));
        assert!(check("n >= 3 && n < 4", &doc));
        assert!(check("n == 1 or n == 3", &doc));
        assert!(check("!(n == 1)", &doc));
    }

    #[test]
    fn missing_paths_are_false_and_explained() {
        let doc = json!({"state": "FAILED"});
        assert!(!check(r#"primary.state == "ENABLED""#, &doc));
        assert!(check(r#"primary.state != "ENABLED""#, &doc));
        assert!(!check("primary", &doc));
        let c = Condition::parse(r#"state == "READY""#).expect("parses");
        assert_eq!(c.explain(&doc), "state is \"FAILED\"");
    }

    #[test]
    fn indexes_arrays() {
        let doc = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        assert!(check(r#"conditions[0].status == "True""#, &doc));
    }

    #[test]
    fn rejects_bad_syntax_with_a_position() {
        let e = Condition::parse("state = \"READY\"").expect_err("single =");
        assert_eq!(e.position, 6);
        assert!(Condition::parse("state ==").is_err());
        assert!(Condition::parse("(a == 1").is_err());
        assert!(Condition::parse("a == \"x").is_err());
        assert!(Condition::parse("a == 1 b").is_err());
    }
}
