//! The client progenitor generates from `openapi.json` at build time, post-processed by
//! `fastcomments-codegen` (see `build.rs`).
//!
//! Reached through [`Client`](crate::Client), which presets the tenant id; the builders
//! and types are re-exported at the crate root as [`builder`](crate::builder) and
//! [`types`](crate::types).
#![allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unused_imports,
    unused_mut,
    unreachable_pub,
    private_interfaces
)]

include!(concat!(env!("OUT_DIR"), "/progenitor.rs"));
