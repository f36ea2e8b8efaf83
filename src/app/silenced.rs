//! How a silence reads on screen: the short mark the failure map puts before the summary,
//! and the sentence the detail view gives it. Pure; the model decides what is silenced.

use crate::model::ServiceView;

/// The map's mark: "silenced until 14:00", "maintenance until 03:30", or "silenced with sql"
/// for a service impacted only by silenced services; `None` when it counts as usual.
pub fn silence_mark(s: &ServiceView) -> Option<String> {
    if !s.silenced {
        return None;
    }
    Some(match &s.silence {
        Some(v) if v.window.is_some() => format!("maintenance until {}", v.until.format("%H:%M")),
        Some(v) => format!("silenced until {}", v.until.format("%H:%M")),
        None => format!("silenced with {}", s.impacted_by.join(", ")),
    })
}

/// The detail view's sentence: who silenced it, why, until when (or which window).
pub fn silence_sentence(s: &ServiceView) -> Option<String> {
    if !s.silenced {
        return None;
    }
    let until = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Some(match &s.silence {
        Some(v) => match (&v.window, &v.by) {
            (Some(w), _) => format!(
                "in maintenance window \"{w}\" until {}: {}",
                until(v.until),
                v.reason
            ),
            (None, by) => format!(
                "silenced until {} by {}: {}",
                until(v.until),
                by.as_deref().unwrap_or("?"),
                v.reason
            ),
        },
        None => format!(
            "counts for nothing while {} stays silenced (impacted only by silenced services)",
            s.impacted_by.join(", ")
        ),
    })
}
