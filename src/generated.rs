//! The client progenitor generates from `openapi.json` at build time (see `build.rs`).
//!
//! Reach it through [`Client`](crate::Client), which presets the tenant id; the builders
//! and types are re-exported at the crate root as [`builder`](crate::builder) and
//! [`types`](crate::types).
#![allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_imports,
    unreachable_pub
)]

include!(concat!(env!("OUT_DIR"), "/progenitor.rs"));
