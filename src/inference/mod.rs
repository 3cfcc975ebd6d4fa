pub mod chunk;
pub mod metrics;
