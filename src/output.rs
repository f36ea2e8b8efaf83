//! `--once` renderers: the `opsdeck.health/v1` JSON and an aligned table, both from the same
//! [`Snapshot`] the console draws.

mod json;
mod table;

pub use json::{SCHEMA, to_json};
pub use table::to_table;
