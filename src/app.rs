//! Console state.
