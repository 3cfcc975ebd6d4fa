//! Shared by the integration tests: running the harness binary, and the servers it is run
//! against.
#![allow(dead_code)]

pub mod delay;
pub mod nginx;
pub mod process;
pub mod run;
pub mod scripted;
pub mod serial;
