//! The estate's `[[maintenance]]` windows: when, in which time zone, for which services
//! planned work is expected, so those services are shown silenced instead of paging anyone.
//! Reading and checking the tables, and the pure time rules (is a window open at an instant,
//! which openings fall in a span); what a silenced service counts for is the model's business.

use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use toml::Spanned;

use super::node::{Node, Table};
use super::reader::{Ctx, Fields, closest};

/// The longest window the estate may declare: longer "maintenance" is a silence forgotten.
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

const KEYS: &[&str] = &[
    "name",
    "services",
    "days",
    "start",
    "duration",
    "time_zone",
    "reason",
];

/// The same days written out, in the same order.
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A time zone: an IANA name (daylight saving applied) or a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// Reads "Europe/Brussels", "UTC", "+02:00", "-0530" or "UTC+2".
    pub fn parse(text: &str) -> Option<Zone> {
        let t = text.trim();
        if let Ok(tz) = t.parse::<chrono_tz::Tz>() {
            return Some(Zone::Named(tz));
        }
        let offset = t
            .strip_prefix("UTC")
            .or_else(|| t.strip_prefix("GMT"))
            .unwrap_or(t);
        let (sign, rest) = match offset.chars().next()? {
            '+' => (1, &offset[1..]),
            '-' => (-1, &offset[1..]),
            _ => return None,
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at(2),
            None => (rest, "0"),
        };
        let h: i32 = h.parse().ok()?;
        let m: i32 = m.parse().ok()?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(Zone::Fixed)
    }

    /// The zone's local calendar date of an instant.
    fn date_of(self, at: DateTime<Utc>) -> NaiveDate {
        match self {
            Zone::Named(tz) => at.with_timezone(&tz).date_naive(),
            Zone::Fixed(off) => at.with_timezone(&off).date_naive(),
        }
    }

    /// The instant a local date and time names. A time skipped by a daylight-saving change
    /// is read as the same wall time an hour later; an ambiguous one as its first instance.
    fn instant(self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        let pick = |tz: &dyn Fn(chrono::NaiveDateTime) -> Option<DateTime<Utc>>| {
            tz(local).or_else(|| tz(local + chrono::TimeDelta::hours(1)))
        };
        match self {
            Zone::Named(tz) => pick(&|l| tz.from_local_datetime(&l).earliest().map(|d| d.to_utc())),
            Zone::Fixed(off) => {
                pick(&|l| off.from_local_datetime(&l).earliest().map(|d| d.to_utc()))
            }
        }
    }

    /// How the estate wrote it, for messages and JSON.
    pub fn name(self) -> String {
        match self {
            Zone::Named(tz) => tz.name().to_string(),
            Zone::Fixed(off) => off.to_string(),
        }
    }
}

/// A recurring maintenance window.
#[derive(Debug, Clone, PartialEq)]
pub struct Maintenance {
    pub name: String,
    /// The ids of the services it silences.
    pub services: Vec<String>,
    /// The days it opens on (local to `zone`); empty: every day.
    pub days: Vec<Weekday>,
    /// When it opens, local to `zone`.
    pub start: NaiveTime,
    pub duration: Duration,
    pub zone: Zone,
    /// Why, shown with the silence (else the window's name).
    pub reason: Option<String>,
}

/// One opening of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Maintenance {
    /// Whether it covers a service.
    pub fn covers(&self, service: &str) -> bool {
        self.services.iter().any(|s| s == service)
    }

    fn opens_on(&self, day: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&day)
    }

    fn span(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.duration).unwrap_or(chrono::TimeDelta::zero())
    }

    /// The opening that is under way at `at`, if any (a window that opened yesterday evening
    /// and runs past midnight counts).
    pub fn open_at(&self, at: DateTime<Utc>) -> Option<Opening> {
        let days_back = self.duration.as_secs() / 86_400 + 2;
        let today = self.zone.date_of(at);
        (0..=days_back)
            .filter_map(|back| today.checked_sub_days(chrono::Days::new(back)))
            .filter(|d| self.opens_on(d.weekday()))
            .filter_map(|d| self.zone.instant(d, self.start))
            .map(|start| Opening {
                start,
                end: start + self.span(),
            })
            .find(|o| o.start <= at && at < o.end)
    }

    /// Every opening that overlaps `[from, to)`, oldest first.
    pub fn openings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Opening> {
        let first = self.zone.date_of(from - self.span()) - chrono::Days::new(1);
        let last = self.zone.date_of(to) + chrono::Days::new(1);
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| self.opens_on(d.weekday()))
            .filter_map(|d| self.zone.instant(d, self.start))
            .map(|start| Opening {
                start,
                end: start + self.span(),
            })
            .filter(|o| o.start < to && o.end > from)
            .collect()
    }

    /// The next opening that starts after `at`, within a fortnight.
    pub fn next_after(&self, at: DateTime<Utc>) -> Option<Opening> {
        self.openings(at, at + chrono::TimeDelta::days(15))
            .into_iter()
            .find(|o| o.start > at)
    }

    /// "sun 02:00 Europe/Brussels, 2h".
    pub fn describe(&self) -> String {
        let days = if self.days.is_empty() {
            "daily".to_string()
        } else {
            self.days
                .iter()
                .map(|d| day_name(*d))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{days} {} {}, {}",
            self.start.format("%H:%M"),
            self.zone.name(),
            humantime::format_duration(self.duration)
        )
    }
}

fn day_name(day: Weekday) -> &'static str {
    DAY_NAMES
        .iter()
        .find(|(_, d)| *d == day)
        .map_or("?", |(n, _)| n)
}

/// Reads one `[[maintenance]]` table; `services` are checked against the estate's ids.
pub(crate) fn read_maintenance(
    ctx: &mut Ctx,
    t: &Table,
    span: Range<usize>,
    ids: &[&str],
) -> Option<Maintenance> {
    let mut f = Fields::new(t, "[[maintenance]]".to_string(), span);
    let name = f.required_string(ctx, "name");
    if let Some(n) = &name {
        f.what = format!("maintenance \"{}\"", n.get_ref());
    }
    let services = read_services(ctx, &mut f, ids);
    let days = read_days(ctx, &mut f);
    let start = read_start(ctx, &mut f);
    let duration = if f.has("duration") {
        let raw = f.get("duration").map(|v| (v.span(), v.get_ref().shown()));
        let d = f.duration(ctx, "duration");
        match (d, raw) {
            (Some(d), Some((span, shown))) if d.is_zero() || d > MAX_WINDOW => {
                ctx.error(
                    span,
                    format!(
                        "{}: key 'duration' is {shown}; a window lasts more than nothing and at most 7 days (use `opsdeck silence add` for longer)",
                        f.what
                    ),
                );
                None
            }
            (d, _) => d,
        }
    } else {
        f.missing(ctx, "duration", " (how long it stays open, like \"2h\")");
        None
    };
    let zone = match f.string(ctx, "time_zone") {
        None => Some(Zone::Fixed(FixedOffset::east_opt(0)?)),
        Some(z) => {
            let parsed = Zone::parse(z.get_ref());
            if parsed.is_none() {
                ctx.error(
                    z.span(),
                    format!(
                        "{}: key 'time_zone' is \"{}\", which is not a time zone; write an IANA name like \"Europe/Brussels\", \"UTC\", or an offset like \"+02:00\"",
                        f.what,
                        z.get_ref()
                    ),
                );
            }
            parsed
        }
    };
    let reason = f.string(ctx, "reason").map(Spanned::into_inner);
    let what = f.what.clone();
    f.finish(ctx, KEYS, &|key| {
        matches!(key, "service" | "ids")
            .then(|| format!(" (write 'services = [\"id\", …]' in {what})"))
    });
    Some(Maintenance {
        name: name?.into_inner(),
        services: services?,
        days: days?,
        start: start?,
        duration: duration?,
        zone: zone?,
        reason,
    })
}

fn read_services(ctx: &mut Ctx, f: &mut Fields, ids: &[&str]) -> Option<Vec<String>> {
    if !f.has("services") {
        f.missing(ctx, "services", " (the ids of the services it silences)");
        return None;
    }
    let v = f.get("services")?;
    let Node::Array(items) = v.get_ref() else {
        ctx.error(
            v.span(),
            format!(
                "{}: key 'services' must be an array of service ids, found {} {}",
                f.what,
                v.get_ref().type_name(),
                v.get_ref().shown()
            ),
        );
        return None;
    };
    if items.is_empty() {
        ctx.error(
            v.span(),
            format!("{}: key 'services' names no service", f.what),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Node::Str(id) = item.get_ref() else {
            ctx.error(
                item.span(),
                format!(
                    "{}: key 'services' must hold service ids (strings), found {} {}",
                    f.what,
                    item.get_ref().type_name(),
                    item.get_ref().shown()
                ),
            );
            ok = false;
            continue;
        };
        if !ids.contains(&id.as_str()) {
            let hint = closest(id, ids.iter().copied())
                .map(|c| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            ctx.error(
                item.span(),
                format!(
                    "{}: \"{id}\" in 'services' is not a service of this estate{hint}",
                    f.what
                ),
            );
            ok = false;
            continue;
        }
        out.push(id.clone());
    }
    ok.then_some(out)
}

fn read_days(ctx: &mut Ctx, f: &mut Fields) -> Option<Vec<Weekday>> {
    let Some(v) = f.get("days") else {
        return Some(Vec::new());
    };
    let items: Vec<&Spanned<Node>> = match v.get_ref() {
        Node::Array(items) => items.iter().collect(),
        Node::Str(s) if s == "daily" => return Some(Vec::new()),
        _ => vec![v],
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let day = match item.get_ref() {
            Node::Str(s) => {
                let lower = s.trim().to_lowercase();
                DAY_NAMES
                    .iter()
                    .position(|(n, _)| *n == lower)
                    .or_else(|| FULL_DAY_NAMES.iter().position(|n| *n == lower))
                    .map(|i| DAY_NAMES[i].1)
            }
            _ => None,
        };
        match day {
            Some(d) if !out.contains(&d) => out.push(d),
            Some(_) => {}
            None => {
                ctx.error(
                    item.span(),
                    format!(
                        "{}: key 'days' has {}, which is not a day; write days as \"mon\" … \"sun\" (or leave 'days' out for every day)",
                        f.what,
                        item.get_ref().shown()
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn read_start(ctx: &mut Ctx, f: &mut Fields) -> Option<NaiveTime> {
    if !f.has("start") {
        f.missing(ctx, "start", " (the local time it opens, like \"02:00\")");
        return None;
    }
    let v = f.get("start")?;
    let text = match v.get_ref() {
        Node::Str(s) | Node::Datetime(s) => s.trim().to_string(),
        other => {
            ctx.error(
                v.span(),
                format!(
                    "{}: key 'start' must be a time of day like \"02:00\", found {} {}",
                    f.what,
                    other.type_name(),
                    other.shown()
                ),
            );
            return None;
        }
    };
    let parsed = NaiveTime::parse_from_str(&text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"));
    if let Ok(t) = parsed {
        Some(t)
    } else {
        ctx.error(
            v.span(),
            format!(
                "{}: key 'start' is \"{text}\", which is not a time of day; write it as \"HH:MM\" (24-hour), like \"02:00\" or \"23:30\"",
                f.what
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn window(days: &[Weekday], start: &str, hours: u64, zone: &str) -> Maintenance {
        Maintenance {
            name: "w".into(),
            services: vec!["sql".into()],
            days: days.to_vec(),
            start: NaiveTime::parse_from_str(start, "%H:%M").expect("time"),
            duration: Duration::from_secs(hours * 3600),
            zone: Zone::parse(zone).expect("zone"),
            reason: None,
        }
    }

    #[test]
    fn a_window_across_midnight_covers_the_small_hours_of_the_next_day() {
        // Saturdays 23:00 UTC for 3 hours: Sat 23:00 → Sun 02:00.
        let w = window(&[Weekday::Sat], "23:00", 3, "UTC");
        // 2025-06-07 is a Saturday.
        assert!(w.open_at(at("2025-06-07T22:59:59Z")).is_none());
        let o = w
            .open_at(at("2025-06-07T23:00:00Z"))
            .expect("open at its start");
        assert_eq!(o.end, at("2025-06-08T02:00:00Z"));
        assert!(
            w.open_at(at("2025-06-08T01:59:59Z")).is_some(),
            "Sunday 01:59"
        );
        assert!(
            w.open_at(at("2025-06-08T02:00:00Z")).is_none(),
            "closed at its end"
        );
        assert!(
            w.open_at(at("2025-06-08T23:30:00Z")).is_none(),
            "not on Sunday"
        );
        assert!(
            w.open_at(at("2025-06-14T23:30:00Z")).is_some(),
            "next Saturday"
        );
    }

    #[test]
    fn a_named_zone_follows_daylight_saving() {
        let w = window(&[], "02:30", 1, "Europe/Brussels");
        // Summer (UTC+2): 02:30 local is 00:30 UTC.
        assert!(w.open_at(at("2025-07-01T00:45:00Z")).is_some());
        assert!(w.open_at(at("2025-07-01T01:45:00Z")).is_none());
        // Winter (UTC+1): 02:30 local is 01:30 UTC.
        assert!(w.open_at(at("2025-01-15T00:45:00Z")).is_none());
        assert!(w.open_at(at("2025-01-15T01:45:00Z")).is_some());
        // 2025-03-30 skips 02:00–03:00 local: the window opens at 03:30 CEST (01:30 UTC).
        let o = w
            .open_at(at("2025-03-30T01:40:00Z"))
            .expect("opens after the gap");
        assert_eq!(o.start, at("2025-03-30T01:30:00Z"));
    }

    #[test]
    fn a_day_is_the_day_in_the_windows_zone_not_in_utc() {
        // Mondays 01:00 in Tokyo (UTC+9) is Sunday 16:00 UTC.
        let w = window(&[Weekday::Mon], "01:00", 2, "Asia/Tokyo");
        assert!(
            w.open_at(at("2025-06-08T16:30:00Z")).is_some(),
            "Sunday in UTC"
        );
        assert!(
            w.open_at(at("2025-06-09T16:30:00Z")).is_none(),
            "Monday in UTC"
        );
        let fixed = window(&[Weekday::Mon], "01:00", 2, "+09:00");
        assert!(fixed.open_at(at("2025-06-08T16:30:00Z")).is_some());
    }

    #[test]
    fn openings_in_a_span_and_the_next_one() {
        let w = window(&[Weekday::Sat, Weekday::Sun], "23:00", 3, "UTC");
        let list = w.openings(at("2025-06-08T01:00:00Z"), at("2025-06-15T00:00:00Z"));
        let starts: Vec<String> = list.iter().map(|o| o.start.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2025-06-07T23:00:00+00:00",
                "2025-06-08T23:00:00+00:00",
                "2025-06-14T23:00:00+00:00"
            ]
        );
        let next = w.next_after(at("2025-06-09T00:00:00Z")).expect("next");
        assert_eq!(next.start, at("2025-06-14T23:00:00Z"));
    }

    #[test]
    fn zones_by_name_and_offset() {
        assert!(matches!(Zone::parse("UTC"), Some(Zone::Named(_))));
        assert!(matches!(
            Zone::parse("Europe/Brussels"),
            Some(Zone::Named(_))
        ));
        assert_eq!(
            Zone::parse("+02:00").map(Zone::name).as_deref(),
            Some("+02:00")
        );
        assert_eq!(
            Zone::parse("UTC-0530").map(Zone::name).as_deref(),
            Some("-05:30")
        );
        assert_eq!(
            Zone::parse("UTC+2").map(Zone::name).as_deref(),
            Some("+02:00")
        );
        assert!(Zone::parse("Mars/Olympus").is_none());
        assert!(Zone::parse("+25:00").is_none());
    }
}
