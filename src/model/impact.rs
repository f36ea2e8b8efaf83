//! Effective SEV, impacted-by and blast radius (architecture.md's SEV model), computed from
//! each service's own status over the estate's dependency edges. Pure.
//!
//! - Down by its own probe → its declared SEV; degraded → declared SEV + 1 (max 4).
//! - A dependency that cannot serve (down, or itself cut off without fallback) impacts its
//!   dependents. Through an edge without fallback the dependent cannot serve either: its SEV
//!   is its own declared SEV, and the failure travels on to its dependents.
//! - Through an edge with a fallback the dependent limps on at the root cause's SEV (never
//!   worse than its own declared SEV) and does not pass the failure on. A fallback with
//!   `fallback_for` holds that long after the root cause went down; then it counts as none.
//! - Several causes: the most severe applies. `impacted_by` names root causes, worst first.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Status;
use crate::estate::{Estate, Sev};

/// Each service's own state, as the impact rules need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Own {
    pub status: Status,
    /// When its current status began (for fallback clocks).
    pub since: Option<DateTime<Utc>>,
}

/// A fallback currently carrying a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveFallback {
    /// The edge's fallback text ("cached DEK").
    pub text: String,
    /// Time left when the fallback is time-limited.
    pub left: Option<Duration>,
    /// The dependency it stands in for.
    pub dependency: usize,
}

/// The impact rules' verdict for one service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Impact {
    /// Effective SEV; `None` when up and impacted by nothing.
    pub sev: Option<Sev>,
    /// Root-cause services, worst first.
    pub impacted_by: Vec<usize>,
    /// Cannot serve (down itself, or cut off through an edge without a working fallback).
    pub failing: bool,
    /// Fallbacks holding it up, soonest to run out first.
    pub fallbacks: Vec<ActiveFallback>,
    /// Fallbacks that ran out (the dependent now counts as cut off).
    pub expired_fallbacks: Vec<String>,
    /// Services this one takes down with it, when it is a root cause.
    pub blast_radius: Vec<usize>,
}

/// Computes the impact of every service. `own[i]` is service `i`'s own state.
pub fn compute(estate: &Estate, own: &[Own], now: DateTime<Utc>) -> Vec<Impact> {
    let n = estate.services.len();
    let index: std::collections::HashMap<&str, usize> = estate
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let deps: Vec<Vec<(usize, &crate::estate::Dependency)>> = estate
        .services
        .iter()
        .map(|s| {
            s.depends_on
                .iter()
                .filter_map(|d| index.get(d.id.as_str()).map(|&j| (j, d)))
                .collect()
        })
        .collect();
    let mut out: Vec<Option<Impact>> = vec![None; n];
    for i in 0..n {
        visit(i, estate, own, &deps, now, &mut out, &mut vec![false; n]);
    }
    let mut impacts: Vec<Impact> = out.into_iter().map(Option::unwrap_or_default).collect();
    for i in 0..n {
        let roots = impacts[i].impacted_by.clone();
        for r in roots {
            if r != i {
                impacts[r].blast_radius.push(i);
            }
        }
    }
    for imp in &mut impacts {
        imp.blast_radius.sort_unstable();
    }
    impacts
}

fn own_sev(declared: Sev, status: Status) -> Option<Sev> {
    match status {
        Status::Down => Some(declared),
        Status::Degraded => Some(declared.milder()),
        Status::Up | Status::Unknown => None,
    }
}

fn visit(
    i: usize,
    estate: &Estate,
    own: &[Own],
    deps: &[Vec<(usize, &crate::estate::Dependency)>],
    now: DateTime<Utc>,
    out: &mut [Option<Impact>],
    on_path: &mut [bool],
) {
    if out[i].is_some() || on_path[i] {
        // Done, or a cycle (rejected by validation; guarded here so nothing loops).
        return;
    }
    on_path[i] = true;
    for &(d, _) in &deps[i] {
        visit(d, estate, own, deps, now, out, on_path);
    }
    on_path[i] = false;

    let declared = estate.services[i].sev;
    let mut imp = Impact {
        sev: own_sev(declared, own[i].status),
        failing: own[i].status == Status::Down,
        ..Impact::default()
    };
    let mut roots: Vec<usize> = Vec::new();
    for &(d, edge) in &deps[i] {
        let Some(dep) = out[d].as_ref() else { continue };
        if !dep.failing {
            continue;
        }
        // The root causes behind this dependency: itself if down by its own probe, plus
        // whatever cut it off.
        let mut dep_roots = dep.impacted_by.clone();
        if own[d].status == Status::Down && !dep_roots.contains(&d) {
            dep_roots.insert(0, d);
        }
        let since = dep_roots.iter().filter_map(|&r| own[r].since).min();
        let root_sev = dep_roots
            .iter()
            .filter_map(|&r| out[r].as_ref().and_then(|x| x.sev))
            .max()
            .unwrap_or(estate.services[d].sev);
        let holding = edge
            .fallback
            .as_ref()
            .and_then(|text| match edge.fallback_for {
                None => Some((text, None)),
                Some(limit) => {
                    let elapsed = since.map_or(Duration::ZERO, |s| {
                        (now - s).to_std().unwrap_or(Duration::ZERO)
                    });
                    if elapsed < limit {
                        Some((text, Some(limit.saturating_sub(elapsed))))
                    } else {
                        imp.expired_fallbacks.push(text.clone());
                        None
                    }
                }
            });
        let candidate = if let Some((text, left)) = holding {
            imp.fallbacks.push(ActiveFallback {
                text: text.clone(),
                left,
                dependency: d,
            });
            root_sev.least(declared)
        } else {
            imp.failing = true;
            declared
        };
        imp.sev = imp.sev.max(Some(candidate));
        for r in dep_roots {
            if !roots.contains(&r) {
                roots.push(r);
            }
        }
    }
    // Worst root first, then estate order.
    roots.sort_by_key(|&r| (std::cmp::Reverse(out[r].as_ref().and_then(|x| x.sev)), r));
    imp.impacted_by = roots;
    imp.fallbacks
        .sort_by_key(|f| f.left.unwrap_or(Duration::MAX));
    out[i] = Some(imp);
}
