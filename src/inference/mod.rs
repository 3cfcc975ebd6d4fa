//! Inference checks: building the request for each API flavour, streaming and timing the
//! answer, and the metrics of DESIGN.md computed from what arrived.

pub mod chunk;
pub mod client;
pub mod decode;
pub mod metrics;
pub mod models;
pub mod request;
