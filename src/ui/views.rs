//! The console's views, one file each; each is a widget over the [`App`](crate::app::App)
//! and the [`Theme`](crate::ui::Theme), reading the app and never changing it.

pub mod detail;
mod detail_explain;
pub mod events;
pub mod failure_map;
pub mod queues;
pub mod runbooks;
pub mod topology;

pub use detail::DetailView;
pub use events::EventsView;
pub use failure_map::FailureMapView;
pub use queues::QueuesView;
pub use runbooks::RunbooksView;
pub use topology::TopologyView;
