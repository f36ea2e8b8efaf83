//! `--once` renderers: the `opsdeck.health/v1` JSON, an aligned table, the Nagios plugin
//! output and Prometheus exposition text, all from the same [`Snapshot`] the console draws.

mod json;
mod nagios;
mod prometheus;
mod table;

pub use json::{SCHEMA, to_json};
pub use nagios::to_nagios;
pub use prometheus::to_prometheus;
pub use table::to_table;
