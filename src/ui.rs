//! Console rendering.
