//! Inference checks: building the request for each API flavour, streaming and timing the
//! answer, and the figures of the metric definitions in the README computed from what arrived.

pub mod chunk;
pub mod client;
pub mod decode;
mod lenient;
pub mod metrics;
pub mod models;
mod rate;
pub mod request;
