//! perfcase: smoke, inference, baseline and SLA checks for AI serving infrastructure,
//! declared in TOML and run as named `cargo test` cases with JUnit and CSV artifacts.
//!
//! The crate is split the way the data flows: [`scenario`] parses files (no I/O),
//! [`catalog`] finds and expands them into cases, [`judge`] decides pass or fail (pure),
//! [`client`] and [`target`] talk to servers, [`runner`] schedules cases as libtest-mimic
//! trials, and [`report`] writes artifacts from plain records.

pub mod catalog;
pub mod client;
pub mod config;
pub mod harness;
pub mod inference;
pub mod judge;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod stream;
pub mod target;
pub mod text;
