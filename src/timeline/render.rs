//! The timeline as text: a Markdown table that reads like a postmortem's timeline (time,
//! service, what happened, who), or the `opsdeck.timeline/v1` JSON document. Text that came
//! from probes is made inert: control characters dropped, table pipes escaped.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Item;

pub const SCHEMA: &str = "opsdeck.timeline/v1";

/// Printable on one line: control characters (escape sequences, newlines) become spaces.
fn inert(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    inert(text).replace('\\', "\\\\").replace('|', "\\|")
}

/// The Markdown timeline; `estate` is its name and environment, when known.
pub fn to_markdown(
    estate: Option<(&str, &str)>,
    items: &[Item],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    let title = estate.map_or_else(
        || "every estate".to_string(),
        |(name, env)| format!("{} ({})", cell(name), cell(env)),
    );
    let mut out = format!("# Timeline: {title}\n\n");
    out.push_str(&format!(
        "From {} to {}, times in UTC. {} {}.\n\n",
        from.format("%Y-%m-%d %H:%M:%S"),
        to.format("%Y-%m-%d %H:%M:%S"),
        items.len(),
        if items.len() == 1 { "entry" } else { "entries" }
    ));
    if items.is_empty() {
        out.push_str("Nothing was recorded in this span.\n");
        return out;
    }
    out.push_str("| Time (UTC) | Service | What happened | Who |\n");
    out.push_str("|---|---|---|---|\n");
    let mut day = None;
    for i in items {
        // The date once per day; the time alone below it.
        let date = i.at.date_naive();
        let time = if day == Some(date) {
            i.at.format("%H:%M:%S").to_string()
        } else {
            day = Some(date);
            i.at.format("%Y-%m-%d %H:%M:%S").to_string()
        };
        out.push_str(&format!(
            "| {time} | {} | {} | {} |\n",
            cell(&i.service),
            cell(&i.what),
            cell(&i.who)
        ));
    }
    out
}

/// The JSON timeline.
pub fn to_json(
    estate: Option<&str>,
    items: &[Item],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    let entries: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            json!({
                "at": i.at,
                "service": inert(&i.service),
                "kind": i.kind,
                "what": inert(&i.what),
                "who": inert(&i.who),
            })
        })
        .collect();
    let doc = json!({
        "schema": SCHEMA,
        "estate": estate,
        "from": from,
        "to": to,
        "entries": entries,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
