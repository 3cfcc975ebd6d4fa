//! Talking to servers: sending requests, timing them, and naming what went wrong in words
//! an operator can act on.

pub mod body;
pub mod error;
pub mod http;

pub use error::RequestError;
