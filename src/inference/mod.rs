//! Inference checks: building the request for each API flavour, streaming and timing the
//! answer (or reading the vectors of an embeddings request), and the figures of the metric
//! definitions in the README computed from what arrived.

pub mod chunk;
pub mod client;
pub mod decode;
pub mod embed;
mod lenient;
pub mod metrics;
pub mod models;
mod rate;
pub mod request;
