//! The poller: runs every service's probe on its own interval with jitter, one probe in
//! flight per service, bounded total concurrency, a per-probe timeout and exponential
//! backoff; sends owned [`ProbeReport`]s to the one place that applies them.

/// Requests the console sends to the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Probe every service now (the `r` key), without waiting for its interval.
    RefreshNow,
    /// Probe one service now (by estate index).
    Refresh(usize),
}
