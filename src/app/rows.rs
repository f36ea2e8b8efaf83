//! The rows of each list view, filtered and in the order the view shows them, and the cursor
//! over a list. Rebuilt whenever the snapshot or the filter changes, never while drawing, so a
//! frame of 5000 services touches only the rows on screen.

use std::collections::HashMap;

use super::filter::Filter;
use super::format::{fallback_text, shown_state};
use crate::model::{ServiceView, Snapshot};
use crate::ui::text::{sanitize, width};

/// The words a service's state is shown as, in the order the header counts them.
pub const STATE_WORDS: [&str; 7] = [
    "down", "degraded", "impacted", "unknown", "up", "loading", "stale",
];

/// How many services show each of [`STATE_WORDS`].
pub type StateCounts = [usize; 7];

fn count_into(counts: &mut StateCounts, s: &ServiceView) {
    let word = shown_state(s);
    if let Some(k) = STATE_WORDS.iter().position(|w| *w == word) {
        counts[k] += 1;
    }
}

/// Roles in the order the topology view stacks them, the way a request travels.
pub const ROLES: [&str; 5] = ["edge", "compute", "queues", "data", "platform"];

/// A cursor over a list: the selected row, the first row on screen, and how many fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
    pub page: usize,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor {
            selected: 0,
            offset: 0,
            page: 1,
        }
    }
}

impl Cursor {
    /// Moves to `target` (clamped), keeping it on screen; returns whether it moved.
    pub fn go(&mut self, target: usize, len: usize) -> bool {
        let before = *self;
        self.selected = target.min(len.saturating_sub(1));
        self.keep_visible(len);
        before != *self
    }

    /// The target of a relative move.
    pub fn by(&self, delta: isize) -> usize {
        self.selected.saturating_add_signed(delta)
    }

    /// Scrolls so the selected row is on screen, with no blank rows below the last one.
    pub fn keep_visible(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + self.page {
            self.offset = self.selected + 1 - self.page;
        }
        self.offset = self.offset.min(len.saturating_sub(self.page));
    }
}

/// What each list view shows, as indices into the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// Services, worst first.
    pub map: Vec<usize>,
    /// Services region by region (estate order, those without a region last), then role by
    /// role ([`ROLES`]), worst first within a role.
    pub topology: Vec<usize>,
    /// Where each topology column (in [`region_columns`] order) lies in `topology`.
    pub topology_columns: Vec<std::ops::Range<usize>>,
    /// Every service of the estate by shown state (the filter does not apply).
    pub state_counts: StateCounts,
    /// The same per topology column.
    pub column_counts: Vec<StateCounts>,
    /// Queue services, worst first.
    pub queues: Vec<usize>,
    /// Events, newest first.
    pub events: Vec<usize>,
    /// Each service's position in `snapshot.services`, by id.
    pub position: HashMap<String, usize>,
    /// Each service's entry in `snapshot.queues`, by position in `snapshot.services`.
    pub queue_of: Vec<Option<usize>>,
    /// The widest text of each failure-map column over its rows.
    pub map_widths: MapWidths,
}

/// Display widths of the failure map's longer texts, measured once per snapshot so a frame
/// never measures rows it does not show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapWidths {
    pub name: usize,
    pub region: usize,
    pub impacted_by: usize,
    pub fallback: usize,
    pub summary: usize,
}

impl MapWidths {
    fn measure<'a>(services: impl Iterator<Item = &'a ServiceView>) -> MapWidths {
        let mut w = MapWidths::default();
        for s in services {
            w.name = w.name.max(width(&sanitize(&s.name)));
            w.region = w
                .region
                .max(s.region.as_deref().map_or(1, |r| width(&sanitize(r))));
            let impacted: usize = s.impacted_by.iter().map(|i| width(&sanitize(i)) + 2).sum();
            w.impacted_by = w.impacted_by.max(impacted.saturating_sub(2));
            if shown_state(s) != "up"
                && let Some(f) = fallback_text(s)
            {
                w.fallback = w.fallback.max(width(&sanitize(&f)));
            }
            w.summary = w.summary.max(width(&sanitize(&s.summary)));
        }
        w
    }
}

impl Rows {
    pub fn build(snapshot: &Snapshot, filter: &Filter) -> Rows {
        let services = &snapshot.services;
        let position: HashMap<String, usize> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let passes: Vec<bool> = services
            .iter()
            .map(|s| filter.is_empty() || filter.matches(snapshot, s))
            .collect();
        let map: Vec<usize> = (0..services.len()).filter(|&i| passes[i]).collect();

        let columns = region_columns(snapshot);
        let mut topology = Vec::with_capacity(map.len());
        let mut topology_columns = Vec::with_capacity(columns.len());
        for region in &columns {
            let start = topology.len();
            for role in ROLES {
                topology.extend(map.iter().copied().filter(|&i| {
                    services[i].region.as_deref() == *region && services[i].kind.role() == role
                }));
            }
            topology_columns.push(start..topology.len());
        }
        let mut state_counts = StateCounts::default();
        let mut column_counts = vec![StateCounts::default(); columns.len()];
        for s in services {
            count_into(&mut state_counts, s);
            if let Some(c) = columns.iter().position(|r| *r == s.region.as_deref()) {
                count_into(&mut column_counts[c], s);
            }
        }

        let mut queue_of = vec![None; services.len()];
        for (qi, q) in snapshot.queues.iter().enumerate() {
            if let Some(&i) = position.get(&q.service) {
                queue_of[i] = Some(qi);
            }
        }
        let queues = map
            .iter()
            .copied()
            .filter(|&i| services[i].kind.is_queue() || queue_of[i].is_some())
            .collect();

        let events = snapshot
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                filter.is_empty() || position.get(&e.service).is_some_and(|&i| passes[i])
            })
            .map(|(i, _)| i)
            .collect();

        let map_widths = MapWidths::measure(map.iter().map(|&i| &services[i]));
        Rows {
            map,
            topology,
            topology_columns,
            state_counts,
            column_counts,
            queues,
            events,
            position,
            queue_of,
            map_widths,
        }
    }
}

/// The topology's columns: every estate region, then `None` when some service has no region.
pub fn region_columns(snapshot: &Snapshot) -> Vec<Option<&str>> {
    let mut columns: Vec<Option<&str>> = snapshot
        .regions
        .iter()
        .map(|r| Some(r.id.as_str()))
        .collect();
    if snapshot.services.iter().any(|s| s.region.is_none()) {
        columns.push(None);
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_stays_on_screen_and_in_range() {
        let mut c = Cursor {
            page: 3,
            ..Cursor::default()
        };
        assert!(!c.go(0, 10));
        assert!(c.go(5, 10));
        assert_eq!((c.selected, c.offset), (5, 3));
        assert!(c.go(c.by(-4), 10));
        assert_eq!((c.selected, c.offset), (1, 1));
        assert!(c.go(99, 10));
        assert_eq!((c.selected, c.offset), (9, 7));
        // The list shrinks under it.
        c.keep_visible(4);
        assert_eq!((c.selected, c.offset), (3, 1));
        c.keep_visible(0);
        assert_eq!((c.selected, c.offset), (0, 0));
    }
}
