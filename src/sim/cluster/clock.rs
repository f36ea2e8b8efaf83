//! The scenario clock as the cluster side reads it, and small helpers every cluster-side
//! protocol shares: stable names and uids, timestamps, URL authorities, query strings. Pure.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::sim::resources::stable_hash;

/// Scenario time (wall time since start × speed) and the wall time each moment of it falls on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimClock {
    pub started: Instant,
    pub start_wall: DateTime<Utc>,
    pub speed: f64,
}

impl SimClock {
    pub fn new(started: Instant, speed: f64) -> SimClock {
        let since = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        SimClock {
            started,
            start_wall: Utc::now() - since,
            speed: if speed > 0.0 { speed } else { 1.0 },
        }
    }

    /// Time on the scenario clock now.
    pub fn elapsed(&self) -> Duration {
        Duration::try_from_secs_f64(self.started.elapsed().as_secs_f64() * self.speed)
            .unwrap_or(Duration::MAX)
    }

    /// The wall time at which the scenario clock reads `at`: timestamps never lie in the future.
    pub fn wall(&self, at: Duration) -> DateTime<Utc> {
        let wall = Duration::try_from_secs_f64(at.as_secs_f64() / self.speed).unwrap_or_default();
        self.start_wall + chrono::Duration::from_std(wall).unwrap_or_default()
    }

    /// RFC 3339 to the second, as Kubernetes writes timestamps.
    pub fn stamp(&self, at: Duration) -> String {
        stamp(self.wall(at))
    }
}

pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `len` characters from Kubernetes' name alphabet (no vowels, no look-alikes), from a seed.
pub(crate) fn token(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = stable_hash(seed);
    (0..len)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize];
            h = (h / ALPHABET.len() as u64) ^ stable_hash(&h.to_string());
            char::from(c)
        })
        .collect()
}

/// Five characters unique for every serial below 27⁵ (a bijection, so names never collide).
pub(crate) fn suffix(serial: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    const SPACE: u64 = 27 * 27 * 27 * 27 * 27;
    let mut n = (serial % SPACE).wrapping_mul(1_000_003) % SPACE;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % 27) as usize];
            n /= 27;
            char::from(c)
        })
        .collect()
}

/// A UUID-shaped id, stable for a seed.
pub(crate) fn uid(seed: &str) -> String {
    let a = stable_hash(seed);
    let b = stable_hash(&format!("{seed}#"));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// A 40-hex-digit run id, as Redis reports it.
pub(crate) fn run_id(seed: &str) -> String {
    let a = stable_hash(seed);
    let b = stable_hash(&format!("{seed}/1"));
    let c = stable_hash(&format!("{seed}/2"));
    format!("{a:016x}{b:016x}{:08x}", c >> 32)
}

/// The parts of a service URL the simulator keys on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub scheme: String,
    /// `host:port`, with the scheme's default port filled in.
    pub authority: String,
    pub host: String,
    pub port: u16,
    /// Everything after the authority (`/0`, `/metrics`), maybe empty.
    pub rest: String,
}

/// Splits a URL; `default_port` applies when it names none.
pub(crate) fn url_parts(url: &str, default_port: u16) -> UrlParts {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h.to_string(), p.parse().unwrap_or(default_port))
        }
        _ => (hostport.to_string(), default_port),
    };
    UrlParts {
        scheme: scheme.to_ascii_lowercase(),
        authority: format!("{host}:{port}"),
        host,
        port,
        rest: rest[end..].to_string(),
    }
}

/// One query parameter, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

/// `%2F` → `/`, `+` → space; invalid escapes stay as they are.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// A duration in seconds from a scenario value: a number, or text like "30s" or "5m".
pub(crate) fn seconds(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0),
        serde_json::Value::String(s) => humantime::parse_duration(s).ok().map(|d| d.as_secs_f64()),
        _ => None,
    }
}

/// `3m`, `2d5h` style ages, as kubectl prints them.
pub(crate) fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=599 => {
            let (m, r) = (s / 60, s % 60);
            if r == 0 {
                format!("{m}m")
            } else {
                format!("{m}m{r}s")
            }
        }
        600..=10_799 => format!("{}m", s / 60),
        10_800..=28_799 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h}h")
            } else {
                format!("{h}h{m}m")
            }
        }
        28_800..=172_799 => format!("{}h", s / 3600),
        172_800..=691_199 => {
            let (d, h) = (s / 86_400, (s % 86_400) / 3600);
            if h == 0 {
                format!("{d}d")
            } else {
                format!("{d}d{h}h")
            }
        }
        691_200..=63_071_999 => format!("{}d", s / 86_400),
        _ => format!("{}y", s / 31_536_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_with_default_ports() {
        let p = url_parts("redis://:pw@10.0.0.5/2", 6379);
        assert_eq!(p.authority, "10.0.0.5:6379");
        assert_eq!(p.rest, "/2");
        let p = url_parts("http://10.30.0.21:9104/metrics", 80);
        assert_eq!((p.host.as_str(), p.port), ("10.30.0.21", 9104));
        assert_eq!(p.rest, "/metrics");
    }

    #[test]
    fn suffixes_never_collide_and_names_are_stable() {
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..20_000 {
            assert!(seen.insert(suffix(n)), "serial {n}");
        }
        assert_eq!(token("web", 10), token("web", 10));
        assert_eq!(token("web", 10).len(), 10);
        assert_eq!(uid("x").len(), 36);
        assert_eq!(run_id("x").len(), 40);
    }

    #[test]
    fn ages_print_like_kubectl() {
        assert_eq!(age(59), "59s");
        assert_eq!(age(150), "2m30s");
        assert_eq!(age(3600), "60m");
        assert_eq!(age(4 * 3600 + 60), "4h1m");
        assert_eq!(age(86_400 * 40), "40d");
    }

    #[test]
    fn decodes_queries() {
        assert_eq!(
            query_param(Some("a=1&labelSelector=app%3Dweb"), "labelSelector").as_deref(),
            Some("app=web")
        );
        assert_eq!(percent_decode("%2F%zz%"), "/%zz%");
    }
}
