//! perfcase: smoke and inference checks for AI serving infrastructure, declared in TOML
//! and run as named `cargo test` cases with JUnit and CSV artifacts.
//!
//! The crate is split the way the data flows: [`scenario`] parses files (no I/O),
//! [`catalog`] finds them and expands their checks into cases (one module per kind),
//! [`runner`] schedules cases as libtest-mimic trials and dispatches each to its kind,
//! [`client`], [`inference`] and [`target`] talk to servers, [`judge`] decides pass or
//! fail (pure), and [`report`] writes artifacts from plain records. [`load`] is the load
//! engine of the coming `[[sla]]` kind, not wired to scenarios yet. [`metric`] is the one
//! table of metrics, units and directions they all read; [`kind`], [`text`], [`atomic`]
//! and [`rng`] are leaves.

pub mod args;
pub mod atomic;
pub mod catalog;
pub mod client;
pub mod config;
pub mod harness;
pub mod inference;
pub mod judge;
pub mod kind;
pub mod load;
pub mod metric;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod stats;
pub mod store;
pub mod stream;
pub mod target;
pub mod text;
