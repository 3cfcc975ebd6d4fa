//! The load engine of the `[[sla]]` kind: runs a [`Plan`] (an open or closed loop
//! over stages) against a [`Request`] and returns a [`Report`] of HDR-histogram figures per
//! second, per stage and in total. `runner::sla` runs it for a check.
//!
//! [`plan`] is the load's shape and its arithmetic (pure), [`engine`] runs it on generator
//! threads, [`record`] and [`report`] keep and merge what happened,
//! [`interval_log`] writes each interval's histograms as it closes, [`http`] has the
//! plain-HTTP requests and [`limits`] the generator machine's own limits. The guarantees
//! (no coordinated omission, bounded memory) are stated where they are kept: the engine's
//! and the recording's module docs.

pub mod engine;
pub mod http;
pub mod interval_log;
pub mod limits;
pub mod mix;
mod pace;
pub mod plan;
pub mod record;
pub mod report;

pub use engine::{Event, Request, RunError, default_threads, run, run_watched};
pub use http::{HttpGet, ReqwestGet};
pub use interval_log::LogError;
pub use mix::{Mix, MixError};
pub use plan::{Arrival, Model, Phase, Plan, Stage};
pub use record::{ErrorKind, Generated, Latency, Resource, Sample, Tally};
pub use report::{Figures, Interval, IntervalGenerated, Report, SoFar};
