//! The server side of a Google API request: the region taken from a regional host name
//! (gcloud reaches Cloud Run through the simulator as its proxy), a `:wait` held until its
//! operation is done, and the latency, hang or reset a scenario injected, put on the wire.

use std::time::{Duration, Instant};

use ::http::header;
use ::http::request::Parts;
use axum::response::Response;

use super::{Shared, google, net, reply};

/// Answers a Google API request.
pub(super) async fn answer(
    shared: &Shared,
    parts: &Parts,
    body: &[u8],
    conn: &net::Reset,
) -> Response {
    let path = parts.uri.path();
    let query = parts.uri.query();
    let host = parts.uri.host().or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let mut call = google::Call {
        method: parts.method.as_str(),
        path,
        query,
        body,
        region: host.and_then(region_prefix),
        waited: false,
    };
    let mut answer = google::answer(&mut shared.world_now(), &call);
    if let Some((op, timeout)) = answer.wait {
        hold_for(shared, op, timeout).await;
        call.waited = true;
        answer = google::answer(&mut shared.world_now(), &call);
    }
    let fault = answer.fault;
    let mut stopping = shared.stopping.clone();
    let stopped = async move {
        // An error means the simulator is gone, which is as good as stopping.
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopped);
    if !fault.latency.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(fault.latency) => {}
            () = &mut stopped => return reply(&stopping_reply()),
        }
    }
    if fault.hang {
        stopped.await;
        return reply(&stopping_reply());
    }
    if fault.reset {
        conn.reset();
    }
    reply(&answer.reply)
}

/// The region a regional Google host starts with: `us-central1` in
/// `us-central1-run.googleapis.com` (and in `us-central1-sim.local:8080`, as gcloud forms it
/// from an endpoint override).
fn region_prefix(host: &str) -> Option<&str> {
    let mut dashes = host.match_indices('-').map(|(i, _)| i);
    let (_, second) = (dashes.next()?, dashes.next()?);
    let region = &host[..second];
    let (area, place) = region.split_once('-')?;
    let valid = !area.is_empty()
        && area.chars().all(|c| c.is_ascii_lowercase())
        && place.len() > 1
        && place.ends_with(|c: char| c.is_ascii_digit())
        && place.starts_with(|c: char| c.is_ascii_lowercase());
    valid.then_some(region)
}

/// Holds a `:wait` request until operation `op` is done, the wall-clock `timeout` passes, or
/// the simulator stops.
async fn hold_for(shared: &Shared, op: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout.min(Duration::from_secs(120));
    let mut stopping = shared.stopping.clone();
    loop {
        let until_done = {
            let world = shared.world_now();
            match world.ops.get(op) {
                Some(o) if !o.done() => o.ends.saturating_sub(world.clock),
                _ => return,
            }
        };
        let wall = Duration::try_from_secs_f64(until_done.as_secs_f64() / shared.speed)
            .unwrap_or(Duration::MAX);
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let nap = wall
            .clamp(Duration::from_millis(5), Duration::from_millis(250))
            .min(deadline - now);
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

fn stopping_reply() -> google::Reply {
    google::rpc_error(503, "UNAVAILABLE", "The simulator is stopping.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_regional_hosts_only() {
        assert_eq!(
            region_prefix("us-central1-run.googleapis.com"),
            Some("us-central1")
        );
        assert_eq!(
            region_prefix("europe-west1-sim.local"),
            Some("europe-west1")
        );
        assert_eq!(
            region_prefix("northamerica-northeast1-x"),
            Some("northamerica-northeast1")
        );
        assert_eq!(region_prefix("run.googleapis.com"), None);
        assert_eq!(region_prefix("127.0.0.1"), None);
        assert_eq!(region_prefix("sim-local-host"), None);
        assert_eq!(region_prefix("-"), None);
    }
}
