//! RESP, the Redis wire protocol, by hand (after mini-redis's frame.rs): parsing the commands a
//! client sends (arrays of bulk strings, or inline commands typed at a terminal) and encoding
//! replies in RESP2 or RESP3. Pure; bounded so that no input can make it allocate without limit
//! or panic.

use std::fmt::Write as _;

/// The longest bulk string or inline line accepted.
pub(crate) const MAX_BULK: usize = 512 * 1024;
/// The most arguments one command may have.
pub(crate) const MAX_ARGS: usize = 1024;

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    Null,
    NullArray,
    Array(Vec<Frame>),
    /// A RESP3 map; RESP2 sends it as a flat array of keys and values.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 verbatim text (`INFO`'s reply); RESP2 sends a bulk string.
    Verbatim(String),
}

impl Frame {
    pub fn ok() -> Frame {
        Frame::Simple("OK".into())
    }

    pub fn bulk(text: impl Into<String>) -> Frame {
        Frame::Bulk(text.into().into_bytes())
    }

    pub fn error(text: impl Into<String>) -> Frame {
        Frame::Error(text.into())
    }

    /// Appends the encoding of this frame in RESP2 (`resp3 == false`) or RESP3.
    pub fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => push_line(out, '+', s),
            Frame::Error(s) => push_line(out, '-', s),
            Frame::Integer(n) => push_line(out, ':', &n.to_string()),
            Frame::Bulk(b) => {
                push_line(out, '$', &b.len().to_string());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Frame::Null => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => {
                push_line(out, '*', &items.len().to_string());
                for item in items {
                    item.encode(resp3, out);
                }
            }
            Frame::Map(pairs) => {
                if resp3 {
                    push_line(out, '%', &pairs.len().to_string());
                } else {
                    push_line(out, '*', &(pairs.len() * 2).to_string());
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Frame::Verbatim(text) if resp3 => {
                push_line(out, '=', &(text.len() + 4).to_string());
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Frame::Verbatim(text) => Frame::Bulk(text.clone().into_bytes()).encode(false, out),
        }
    }
}

fn push_line(out: &mut Vec<u8>, kind: char, text: &str) {
    let mut line = String::with_capacity(text.len() + 3);
    line.push(kind);
    // Simple strings and errors cannot carry line breaks.
    let _ = write!(line, "{}", text.replace(['\r', '\n'], " "));
    line.push_str("\r\n");
    out.extend_from_slice(line.as_bytes());
}

/// Why the input cannot be a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub String);

/// Takes one whole command off the front of `buf`: `Ok(None)` when more bytes are needed.
pub(crate) fn parse_command(buf: &mut Vec<u8>) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let (args, used) = if buf[0] == b'*' {
        match parse_array(buf)? {
            Some(x) => x,
            None => return Ok(None),
        }
    } else {
        let Some(end) = find_crlf(buf, 0) else {
            if buf.len() > MAX_BULK {
                return Err(ProtocolError("too big inline request".into()));
            }
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[..end]);
        let args = split_inline(&line)?;
        (args, end + 2)
    };
    buf.drain(..used);
    Ok(Some(args))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| i + from)
}

/// Reads `<prefix><number>\r\n` at `at`; returns the number and where the next line starts.
fn number_line(buf: &[u8], at: usize, prefix: u8) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(end) = find_crlf(buf, at) else {
        if buf.len().saturating_sub(at) > 32 {
            return Err(ProtocolError(format!(
                "invalid {} count",
                char::from(prefix)
            )));
        }
        return Ok(None);
    };
    if buf.get(at) != Some(&prefix) {
        return Err(ProtocolError(format!(
            "expected '{}', got '{}'",
            char::from(prefix),
            buf.get(at).map_or(' ', |b| char::from(*b))
        )));
    }
    let text = std::str::from_utf8(&buf[at + 1..end]).unwrap_or_default();
    let n = text
        .parse::<i64>()
        .map_err(|_| ProtocolError(format!("invalid {} count", char::from(prefix))))?;
    Ok(Some((n, end + 2)))
}

type Parsed = Option<(Vec<Vec<u8>>, usize)>;

fn parse_array(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some((count, mut at)) = number_line(buf, 0, b'*')? else {
        return Ok(None);
    };
    let count = usize::try_from(count.max(0)).unwrap_or(0);
    if count > MAX_ARGS {
        return Err(ProtocolError("invalid multibulk length".into()));
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let Some((len, start)) = number_line(buf, at, b'$')? else {
            return Ok(None);
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_BULK)
            .ok_or_else(|| ProtocolError("invalid bulk length".into()))?;
        if buf.len() < start + len + 2 {
            return Ok(None);
        }
        if &buf[start + len..start + len + 2] != b"\r\n" {
            return Err(ProtocolError("bulk string not terminated by CRLF".into()));
        }
        args.push(buf[start..start + len].to_vec());
        at = start + len + 2;
    }
    Ok(Some((args, at)))
}

/// Splits an inline command line, honouring double and single quotes as redis-server does.
fn split_inline(line: &str) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut args = Vec::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' && first == '"' {
                    match chars.next() {
                        Some('n') => arg.push('\n'),
                        Some('r') => arg.push('\r'),
                        Some('t') => arg.push('\t'),
                        Some(other) => arg.push(other),
                        None => break,
                    }
                } else {
                    arg.push(c);
                }
            }
            if !closed {
                return Err(ProtocolError("unbalanced quotes in request".into()));
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| !c.is_whitespace()) {
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg.into_bytes());
        if args.len() > MAX_ARGS {
            return Err(ProtocolError("too many arguments".into()));
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<Vec<String>>, ProtocolError> {
        let mut buf = bytes.to_vec();
        parse_command(&mut buf).map(|o| {
            o.map(|args| {
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
        })
    }

    #[test]
    fn parses_arrays_inline_and_partial_input() {
        assert_eq!(
            parse(b"*2\r\n$4\r\nLLEN\r\n$6\r\ncelery\r\n").expect("ok"),
            Some(vec!["LLEN".into(), "celery".into()])
        );
        assert_eq!(parse(b"*2\r\n$4\r\nLLEN\r\n$6\r\ncel").expect("ok"), None);
        assert_eq!(parse(b"*2\r\n$4").expect("ok"), None);
        assert_eq!(
            parse(b"SENTINEL get-master-addr-by-name \"my master\"\r\n").expect("ok"),
            Some(vec![
                "SENTINEL".into(),
                "get-master-addr-by-name".into(),
                "my master".into()
            ])
        );
        assert_eq!(parse(b"PING").expect("ok"), None);
        let mut two = b"PING\r\n*1\r\n$4\r\nPING\r\n".to_vec();
        assert!(parse_command(&mut two).expect("ok").is_some());
        assert!(parse_command(&mut two).expect("ok").is_some());
        assert!(two.is_empty());
    }

    #[test]
    fn refuses_garbage_and_huge_lengths_without_panicking() {
        assert!(parse(b"*1\r\n$99999999999\r\n").is_err());
        assert!(parse(b"*99999999\r\n").is_err());
        assert!(parse(b"*1\r\n:4\r\n").is_err());
        assert!(parse(b"*x\r\n").is_err());
        assert!(parse(b"\"open\r\n").is_err());
        assert!(parse(b"*1\r\n$2\r\nabcd\r\n").is_err());
        for junk in [
            &b"*-5\r\n"[..],
            b"*1\r\n$-1\r\n",
            b"\r\n",
            b"*\r\n",
            b"$\xff\xfe\r\n",
        ] {
            let _ = parse(junk);
        }
    }

    #[test]
    fn encodes_both_protocols() {
        let map = Frame::Map(vec![(Frame::bulk("role"), Frame::bulk("master"))]);
        let mut two = Vec::new();
        map.encode(false, &mut two);
        assert_eq!(two, b"*2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n");
        let mut three = Vec::new();
        map.encode(true, &mut three);
        assert_eq!(three, b"%1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n");
        let mut out = Vec::new();
        Frame::Null.encode(false, &mut out);
        Frame::error("ERR bad\r\nline").encode(false, &mut out);
        Frame::Verbatim("a".into()).encode(true, &mut out);
        assert_eq!(out, b"$-1\r\n-ERR bad  line\r\n=5\r\ntxt:a\r\n");
    }
}
