//! The HPA controller of a simulated cluster: every 15 simulated seconds it works out the
//! replicas the CPU utilisation asks for, scales up at once, and scales down only after the
//! utilisation has stayed low for the stabilisation window. Pure.

use std::time::Duration;

use super::store::{KubeCluster, Res};

/// How often the HPA controller looks at its metrics.
const HPA_SYNC: Duration = Duration::from_secs(15);
/// How long metrics must stay below target before the HPA scales down.
const HPA_DOWNSCALE_WINDOW: Duration = Duration::from_secs(300);

impl KubeCluster {
    /// The HPA controller: scale towards the CPU target within min and max.
    pub(super) fn hpa_sync(&mut self, index: usize, at: Duration) {
        let Some(w) = self.workloads.get_mut(index) else {
            return;
        };
        let replicas = w.replicas;
        let Some(hpa) = w.hpa.as_mut() else {
            return;
        };
        if hpa.next_sync > at {
            return;
        }
        hpa.next_sync = at + HPA_SYNC;
        let ratio = f64::from(hpa.cpu) / f64::from(hpa.target.max(1));
        let raw = if (ratio - 1.0).abs() <= 0.1 {
            replicas
        } else {
            (f64::from(replicas.max(1)) * ratio).ceil() as u32
        };
        let desired = raw.clamp(hpa.min, hpa.max.max(hpa.min));
        let before = hpa.desired;
        hpa.desired = desired;
        let scale_to = match desired.cmp(&replicas) {
            std::cmp::Ordering::Greater => {
                hpa.below_since = None;
                Some(desired)
            }
            std::cmp::Ordering::Less => {
                let since = *hpa.below_since.get_or_insert(at);
                (at.saturating_sub(since) >= HPA_DOWNSCALE_WINDOW).then_some(desired)
            }
            std::cmp::Ordering::Equal => {
                hpa.below_since = None;
                None
            }
        };
        let (ns, name, uid) = (w.namespace.clone(), w.name.clone(), hpa.uid.clone());
        if let Some(to) = scale_to {
            hpa.last_scale = Some(at);
            hpa.below_since = None;
            let why = if to > replicas {
                "cpu resource utilization (percentage of request) above target"
            } else {
                "All metrics below target"
            };
            self.record(
                at,
                &ns,
                ("HorizontalPodAutoscaler", &name, &uid),
                "SuccessfulRescale",
                format!("New size: {to}; reason: {why}"),
                false,
                "horizontal-pod-autoscaler",
                None,
            );
            self.scale(index, to, at);
        }
        if before != desired || scale_to.is_some() {
            self.touch(Res::Hpa, &ns, &name);
        }
    }
}
