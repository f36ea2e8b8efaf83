//! The built-in simulator.
