//! Reading the PromQL subset the Managed Prometheus endpoint (`promql.rs`) evaluates:
//! numbers, selectors with matchers and ranges, function calls, and aggregations with
//! `by`/`without`. Pure; errors read like Prometheus's (`1:5: parse error: …`).

use std::time::Duration;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Number(f64),
    Selector {
        name: Option<String>,
        matchers: Vec<(String, String, String)>,
        range: Option<Duration>,
    },
    Call {
        name: String,
        arg: Box<Expr>,
    },
    Aggregate {
        op: String,
        without: bool,
        labels: Vec<String>,
        arg: Box<Expr>,
    },
}

/// A recursive-descent reader of the PromQL subset.
pub(super) struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Parser<'a> {
        Parser { text, pos: 0 }
    }

    pub(super) fn parse(mut self) -> Result<Expr, String> {
        let e = self.expr()?;
        self.skip();
        if self.pos < self.text.len() {
            return Err(self.error(&format!("unexpected \"{}\"", &self.text[self.pos..])));
        }
        Ok(e)
    }

    fn error(&self, what: &str) -> String {
        format!("1:{}: parse error: {what}", self.pos + 1)
    }

    fn skip(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip();
        if self.text[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected \"{token}\"")))
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        (len > 0 && !rest.starts_with(|c: char| c.is_ascii_digit())).then(|| {
            self.pos += len;
            rest[..len].to_string()
        })
    }

    fn labels(&mut self) -> Result<Vec<String>, String> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            out.push(
                self.ident()
                    .ok_or_else(|| self.error("expected a label name"))?,
            );
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(out)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.skip();
        let rest = &self.text[self.pos..];
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e'))
                .unwrap_or(rest.len());
            let n = rest[..len].parse().map_err(|_| self.error("bad number"))?;
            self.pos += len;
            return Ok(Expr::Number(n));
        }
        if rest.starts_with('{') {
            return self.selector(None);
        }
        let name = self
            .ident()
            .ok_or_else(|| self.error("expected an expression"))?;
        if matches!(name.as_str(), "sum" | "avg" | "min" | "max" | "count") {
            let mut grouping = None;
            for word in ["by", "without"] {
                if self.peek_word(word) {
                    self.ident();
                    grouping = Some((word == "without", self.labels()?));
                }
            }
            self.expect("(")?;
            let arg = self.expr()?;
            self.expect(")")?;
            for word in ["by", "without"] {
                if grouping.is_none() && self.peek_word(word) {
                    self.ident();
                    grouping = Some((word == "without", self.labels()?));
                }
            }
            let (without, labels) = grouping.unwrap_or((false, Vec::new()));
            return Ok(Expr::Aggregate {
                op: name,
                without,
                labels,
                arg: Box::new(arg),
            });
        }
        if self.eat("(") {
            let arg = self.expr()?;
            self.expect(")")?;
            return Ok(Expr::Call {
                name,
                arg: Box::new(arg),
            });
        }
        self.selector(Some(name))
    }

    fn peek_word(&mut self, word: &str) -> bool {
        self.skip();
        let rest = &self.text[self.pos..];
        rest.starts_with(word)
            && !rest[word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    }

    fn selector(&mut self, mut name: Option<String>) -> Result<Expr, String> {
        let mut matchers = Vec::new();
        if self.eat("{") {
            while !self.eat("}") {
                let label = self
                    .ident()
                    .ok_or_else(|| self.error("expected a label name"))?;
                let op = ["=~", "!~", "!=", "="]
                    .into_iter()
                    .find(|op| self.eat(op))
                    .ok_or_else(|| self.error("expected a label matching operator"))?;
                let value = self.string()?;
                if label == "__name__" && op == "=" {
                    name = Some(value);
                } else {
                    matchers.push((label, op.to_string(), value));
                }
                if !self.eat(",") {
                    self.expect("}")?;
                    break;
                }
            }
        }
        let range = if self.eat("[") {
            let end = self.text[self.pos..]
                .find(']')
                .ok_or_else(|| self.error("unclosed range"))?;
            let text = self.text[self.pos..self.pos + end].trim().to_string();
            self.pos += end + 1;
            Some(
                humantime::parse_duration(&text)
                    .map_err(|_| self.error(&format!("bad duration \"{text}\"")))?,
            )
        } else {
            None
        };
        if name.is_none() && matchers.is_empty() {
            return Err(self.error("vector selector must contain at least one non-empty matcher"));
        }
        Ok(Expr::Selector {
            name,
            matchers,
            range,
        })
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip();
        let quote = self.text[self.pos..]
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| self.error("expected a quoted string"))?;
        let start = self.pos + 1;
        let end = self.text[start..]
            .find(quote)
            .ok_or_else(|| self.error("unterminated quoted string"))?;
        self.pos = start + end + 1;
        Ok(self.text[start..start + end].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let e = Parser::new("sum by (service_name, location) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[5m]))").parse().expect("parses");
        let Expr::Aggregate {
            op, labels, arg, ..
        } = e
        else {
            panic!("aggregate")
        };
        assert_eq!(op, "sum");
        assert_eq!(labels, vec!["service_name", "location"]);
        assert!(matches!(*arg, Expr::Call { ref name, .. } if name == "rate"));
        assert!(Parser::new("max(x) without (a)").parse().is_ok());
        assert!(Parser::new("{__name__=\"x\", a!~'b|c.*'}").parse().is_ok());
        for bad in ["sum(", "x{a=}", "x[5q]", "{}", "x y"] {
            assert!(Parser::new(bad).parse().is_err(), "{bad}");
        }
    }
}
