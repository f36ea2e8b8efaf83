//! The PromQL parser of the simulated Prometheus: tokens, then expressions by precedence
//! (`or` < `and`/`unless` < comparisons < `+ -` < `* / %` < `^`), selectors with label
//! matchers, aggregations with `by`/`without`, function calls and range selectors. Pure;
//! every input parses or gets a message.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Str(String),
    Op(&'static str),
}

#[derive(Debug, Clone)]
pub(super) enum Matcher {
    Eq(String, String),
    Ne(String, String),
    Re(String, regex::Regex),
    Nre(String, regex::Regex),
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Num(f64),
    Select(Vec<Matcher>, Option<Duration>),
    Agg(
        String,
        Option<(bool, Vec<String>)>,
        Option<Box<Expr>>,
        Box<Expr>,
    ),
    Call(String, Vec<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, bool, Box<Expr>, Box<Expr>),
}

const AGGS: &[&str] = &[
    "sum", "min", "max", "avg", "count", "group", "topk", "bottomk", "stddev",
];
const OPS: &[&str] = &[
    "==", "!=", "=~", "!~", ">=", "<=", ">", "<", "=", "+", "-", "*", "/", "%", "^", "(", ")", "{",
    "}", "[", "]", ",",
];

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(&d) = chars.get(i) else {
                    return Err("unterminated quoted string".into());
                };
                i += 1;
                if d == c {
                    break;
                }
                if d == '\\' && c != '`' {
                    let e = chars.get(i).copied().unwrap_or('\\');
                    i += 1;
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    s.push(d);
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            match text.parse::<f64>() {
                Ok(n) => out.push(Tok::Num(n)),
                Err(_) => out.push(Tok::Ident(text)),
            }
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|o| rest.starts_with(**o))
                .ok_or_else(|| format!("unexpected character: {c:?}"))?;
            out.push(Tok::Op(op));
            i += op.chars().count();
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("unexpected {}, expected \"{op}\"", self.shown()))
        }
    }

    fn shown(&self) -> String {
        match self.peek() {
            None => "end of input".into(),
            Some(Tok::Num(n)) => format!("number {n}"),
            Some(Tok::Ident(s)) => format!("identifier {s:?}"),
            Some(Tok::Str(s)) => format!("string {s:?}"),
            Some(Tok::Op(o)) => format!("\"{o}\""),
        }
    }

    fn binary(&mut self, level: usize) -> Result<Expr, String> {
        const LEVELS: &[&[&str]] = &[
            &["or"],
            &["and", "unless"],
            &["==", "!=", ">=", "<=", ">", "<"],
            &["+", "-"],
            &["*", "/", "%"],
            &["^"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o)) if LEVELS[level].contains(o) => *o,
                Some(Tok::Ident(w)) if LEVELS[level].contains(&w.as_str()) => LEVELS[level]
                    .iter()
                    .find(|x| **x == w.as_str())
                    .copied()
                    .unwrap_or("or"),
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let boolean = matches!(self.peek(), Some(Tok::Ident(w)) if w == "bool");
            if boolean {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(Tok::Ident(w)) if ["on", "ignoring", "group_left", "group_right"].contains(&w.as_str()))
            {
                return Err(format!(
                    "vector matching with {} is not supported by the simulator",
                    self.shown()
                ));
            }
            let rhs = if op == "^" {
                self.binary(level)?
            } else {
                self.binary(level + 1)?
            };
            lhs = Expr::Bin(op, boolean, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.primary()
    }

    fn labels(&mut self) -> Result<Vec<String>, String> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            match self.next() {
                Some(Tok::Ident(s)) => out.push(s),
                _ => return Err("expected a label name in the grouping".into()),
            }
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(out)
    }

    fn grouping(&mut self) -> Result<Option<(bool, Vec<String>)>, String> {
        match self.peek() {
            Some(Tok::Ident(w)) if w == "by" || w == "without" => {
                let without = w == "without";
                self.pos += 1;
                Ok(Some((without, self.labels()?)))
            }
            _ => Ok(None),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Op("(")) => {
                let e = self.binary(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Op("{")) => self.selector(None),
            Some(Tok::Ident(name)) if AGGS.contains(&name.as_str()) => {
                let mut group = self.grouping()?;
                self.expect("(")?;
                let param = if matches!(name.as_str(), "topk" | "bottomk") {
                    let p = self.binary(0)?;
                    self.expect(",")?;
                    Some(Box::new(p))
                } else {
                    None
                };
                let inner = self.binary(0)?;
                self.expect(")")?;
                if group.is_none() {
                    group = self.grouping()?;
                }
                Ok(Expr::Agg(name, group, param, Box::new(inner)))
            }
            Some(Tok::Ident(name)) if matches!(self.peek(), Some(Tok::Op("("))) => {
                self.pos += 1;
                let mut args = Vec::new();
                while !self.eat(")") {
                    args.push(self.binary(0)?);
                    if !self.eat(",") {
                        self.expect(")")?;
                        break;
                    }
                }
                Ok(Expr::Call(name, args))
            }
            Some(Tok::Ident(name)) => {
                if self.eat("{") {
                    self.selector(Some(name))
                } else {
                    self.range(vec![Matcher::Eq("__name__".into(), name)])
                }
            }
            _ => {
                self.pos -= 1;
                Err(format!("unexpected {}", self.shown()))
            }
        }
    }

    fn selector(&mut self, name: Option<String>) -> Result<Expr, String> {
        let mut ms: Vec<Matcher> = name
            .into_iter()
            .map(|n| Matcher::Eq("__name__".into(), n))
            .collect();
        while !self.eat("}") {
            let Some(Tok::Ident(label)) = self.next() else {
                return Err("expected a label name in the selector".into());
            };
            let op = match self.next() {
                Some(Tok::Op(o)) if ["=", "!=", "=~", "!~"].contains(&o) => o,
                _ => {
                    return Err(format!(
                        "unexpected {} in label matching, expected one of \"=\", \"!=\", \"=~\" or \"!~\"",
                        self.shown()
                    ));
                }
            };
            let Some(Tok::Str(value)) = self.next() else {
                return Err("expected a quoted label value".into());
            };
            let re = || {
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regular expression {value:?}: {e}"))
            };
            ms.push(match op {
                "=" => Matcher::Eq(label, value),
                "!=" => Matcher::Ne(label, value),
                "=~" => Matcher::Re(label, re()?),
                _ => Matcher::Nre(label, re()?),
            });
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        if ms.is_empty() {
            return Err("vector selector must contain at least one non-empty matcher".into());
        }
        self.range(ms)
    }

    fn range(&mut self, ms: Vec<Matcher>) -> Result<Expr, String> {
        if !self.eat("[") {
            return Ok(Expr::Select(ms, None));
        }
        let text = match self.next() {
            Some(Tok::Ident(s)) => s,
            Some(Tok::Num(n)) => format!("{n}s"),
            _ => return Err("expected a duration in the range".into()),
        };
        let d = humantime::parse_duration(&text).map_err(|_| format!("bad duration {text:?}"))?;
        self.expect("]")?;
        Ok(Expr::Select(ms, Some(d)))
    }
}

pub(super) fn parse(src: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    if p.toks.is_empty() {
        return Err("no expression found in input".into());
    }
    let e = p.binary(0)?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {}", p.shown()));
    }
    Ok(e)
}
