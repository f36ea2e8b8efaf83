//! Console event loop.
