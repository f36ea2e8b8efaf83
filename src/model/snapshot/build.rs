//! Building the snapshot from the model's state: each service's view with its SEV, impact,
//! fallback, silence, evidence and change; the worst-first order; the verdict; the queues.

use super::{
    Change, ChangeView, Counts, DateTime, DependencyView, Duration, ErrorView, Estate, Event,
    EventView, Overall, Own, QueueView, RegionView, ServiceState, ServiceView, Silence, Snapshot,
    Status, Utc, VecDeque, blind, evidence, impact, silence,
};

pub(in crate::model) fn build(
    estate: &Estate,
    states: &[ServiceState],
    events: &VecDeque<Event>,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> Snapshot {
    let own: Vec<Own> = states
        .iter()
        .map(|st| Own {
            status: st
                .observation
                .as_ref()
                .map_or(Status::Unknown, |o| o.status),
            since: st.status_since,
        })
        .collect();
    let impacts = impact::compute(estate, &own, now);
    let changes: Vec<Option<Change>> = states
        .iter()
        .map(|st| {
            Change::latest(
                st.observation.as_ref().and_then(|o| o.change.clone()),
                st.runbook_change.clone(),
            )
        })
        .collect();
    let position: std::collections::HashMap<&str, usize> = estate
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut dependents: Vec<Vec<String>> = vec![Vec::new(); estate.services.len()];
    for svc in &estate.services {
        for dep in &svc.depends_on {
            if let Some(&i) = position.get(dep.id.as_str()) {
                dependents[i].push(svc.id.clone());
            }
        }
    }

    let mut services: Vec<ServiceView> = estate
        .services
        .iter()
        .zip(states)
        .zip(&impacts)
        .enumerate()
        .map(|(i, ((svc, st), imp))| {
            let obs = st.observation.as_ref();
            let status = own[i].status;
            let pending = obs.is_none() && st.failure.is_none();
            let too_old = st
                .observed_at
                .is_some_and(|at| (now - at).to_std().unwrap_or(Duration::ZERO) > svc.interval * 3);
            let stale = st.failure.is_some() || too_old;
            let stale_since = if stale {
                st.observed_at.or(st.failing_since)
            } else {
                None
            };
            let sev = match status {
                Status::Unknown if imp.sev.is_none() => Some(svc.sev),
                _ => imp.sev,
            };
            let (fallback, fallback_left_s) = match imp.fallbacks.first() {
                Some(f) => (Some(f.text.clone()), f.left.map(|d| d.as_secs())),
                None => (svc.fallback.clone(), None),
            };
            let summary = if pending {
                "waiting for the first probe".to_string()
            } else {
                obs.map_or_else(
                    || st.failure.clone().unwrap_or_default(),
                    |o| o.summary.clone(),
                )
            };
            let error = st
                .failure
                .clone()
                .or_else(|| obs.and_then(|o| o.error.clone()));
            ServiceView {
                id: svc.id.clone(),
                name: svc.name.clone(),
                kind: svc.kind,
                region: svc.region.clone(),
                status,
                declared_sev: svc.sev.level(),
                sev: sev.map(crate::estate::Sev::level),
                impacted_by: imp
                    .impacted_by
                    .iter()
                    .map(|&r| estate.services[r].id.clone())
                    .collect(),
                fallback,
                fallback_left_s,
                summary,
                observed_at: st.observed_at,
                stale,
                stale_since,
                error,
                metrics: obs.map(|o| o.metrics.clone()).unwrap_or_default(),
                blast_radius: imp
                    .blast_radius
                    .iter()
                    .map(|&r| estate.services[r].id.clone())
                    .collect(),
                pending,
                failing: imp.failing,
                since: st.status_since,
                depends_on: svc
                    .depends_on
                    .iter()
                    .map(|d| DependencyView {
                        id: d.id.clone(),
                        fallback: d.fallback.clone(),
                        fallback_for_s: d.fallback_for.map(|f| f.as_secs()),
                    })
                    .collect(),
                dependents: std::mem::take(&mut dependents[i]),
                runbooks: svc.runbooks.clone(),
                owner: svc.owner.clone(),
                escalation: svc.escalation.clone(),
                recent_errors: st
                    .errors
                    .iter()
                    .rev()
                    .map(|(at, e)| ErrorView {
                        at: *at,
                        error: e.clone(),
                    })
                    .collect(),
                silence: None,
                silenced: false,
                evidence: evidence::shown(obs, st.observed_at),
                change: evidence::pick(
                    i,
                    &changes,
                    matches!(status, Status::Down | Status::Degraded),
                    &imp.impacted_by,
                )
                .map(|(at, c)| ChangeView::of(&estate.services[at].id, c)),
                handoff: crate::handoff::for_service(svc),
                index: i,
            }
        })
        .collect();
    silence::mark(&mut services, estate, silences, now);
    services.sort_by_key(order_key);
    let blind = blind::group(estate, &services);

    let mut counts = Counts::default();
    for s in &services {
        counts.add(s);
    }
    let status = overall(&services);
    let worst_sev = services
        .iter()
        .filter(|s| !s.silenced)
        .filter(|s| s.status != Status::Up || s.is_impacted())
        .filter_map(|s| s.sev)
        .min();

    let regions = estate
        .regions
        .iter()
        .map(|r| {
            let mut counts = Counts::default();
            let mut worst_sev = None::<u8>;
            let mut worst = Status::Up;
            let mut n = 0;
            for s in services
                .iter()
                .filter(|s| s.region.as_deref() == Some(&r.id))
            {
                n += 1;
                counts.add(s);
                if !s.silenced && (s.status != Status::Up || s.is_impacted()) {
                    worst_sev = match (worst_sev, s.sev) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                if s.status.rank() < worst.rank() {
                    worst = s.status;
                }
            }
            RegionView {
                id: r.id.clone(),
                gcp_region: r.gcp_region.clone(),
                services: n,
                counts,
                worst_sev,
                status: worst,
            }
        })
        .collect();

    let queues = estate
        .services
        .iter()
        .zip(states)
        .filter(|(svc, _)| svc.kind.is_queue())
        .map(|(svc, st)| queue_view(&svc.id, st))
        .collect();

    let events = events
        .iter()
        .rev()
        .map(|e| EventView {
            at: e.at,
            service: estate.services[e.service].id.clone(),
            from: e.from,
            to: e.to,
            text: e.text.clone(),
        })
        .collect();

    Snapshot {
        estate: estate.name.clone(),
        environment: estate.environment.clone(),
        generated_at: now,
        status,
        exit_code: status.exit_code(),
        worst_sev,
        counts,
        services,
        regions,
        queues,
        blind,
        events,
        sev_names: estate.sev_names.clone(),
    }
}

/// Worst first: effective SEV, then root causes before impacted before unknown before up;
/// silenced problems after every live one, before the services that are up.
fn order_key(s: &ServiceView) -> (u8, u8, u8, u8, String) {
    let class = if s.status == Status::Down || s.status == Status::Degraded {
        0
    } else if s.is_impacted() {
        1
    } else if s.is_uncertain() {
        2
    } else {
        3
    };
    let sev = if class == 3 { 9 } else { s.sev.unwrap_or(9) };
    let tier = match (class, s.silenced) {
        (3, _) => 2,
        (_, true) => 1,
        _ => 0,
    };
    (tier, sev, class, s.declared_sev, s.id.clone())
}

/// The Nagios verdict (architecture.md): critical for any known SEV 1–2, unknown for a SEV 1–2
/// service opsdeck cannot vouch for while nothing is critical, warning for anything else amiss.
/// Silenced services count for nothing.
fn overall(services: &[ServiceView]) -> Overall {
    let counted = || services.iter().filter(|s| !s.silenced);
    let known_problem =
        |s: &ServiceView| matches!(s.status, Status::Down | Status::Degraded) || s.is_impacted();
    if counted()
        .filter(|s| known_problem(s))
        .any(|s| s.sev.is_some_and(|v| v <= 2))
    {
        return Overall::Critical;
    }
    if counted().any(|s| s.is_uncertain() && s.declared_sev <= 2) {
        return Overall::Unknown;
    }
    if counted().any(|s| known_problem(s) || s.is_uncertain()) {
        return Overall::Warning;
    }
    Overall::Ok
}

fn queue_view(id: &str, st: &ServiceState) -> QueueView {
    let q = st.observation.as_ref().and_then(|o| o.queue.clone());
    let history: Vec<u64> = st.depth_history.iter().map(|(_, d)| *d).collect();
    let window: Vec<&(DateTime<Utc>, u64)> = st.depth_history.iter().rev().take(10).collect();
    let drain_per_s = match (window.last(), window.first()) {
        (Some((t0, d0)), Some((t1, d1))) if t1 > t0 => {
            let secs = (*t1 - *t0).num_milliseconds() as f64 / 1000.0;
            Some((*d0 as f64 - *d1 as f64) / secs)
        }
        _ => None,
    };
    let depth = q.as_ref().and_then(|q| q.depth);
    let eta_s = match (depth, drain_per_s) {
        (Some(0), _) => Some(0.0),
        (Some(d), Some(r)) if r > 0.0 => Some(d as f64 / r),
        _ => None,
    };
    QueueView {
        service: id.to_string(),
        depth,
        oldest_age_s: q.as_ref().and_then(|q| q.oldest_age_s),
        consumers: q.as_ref().and_then(|q| q.consumers),
        drain_per_s,
        eta_s,
        history,
        extra: q.map(|q| q.extra).unwrap_or_default(),
    }
}
