//! The kinds of check, the first part of every case name. A leaf: suites, cases and
//! records name a kind without depending on each other.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A scenario or suite file that could not be loaded.
    Load,
    Smoke,
    Inference,
    Baseline,
    Sla,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Load => "load",
            Kind::Smoke => "smoke",
            Kind::Inference => "inference",
            Kind::Baseline => "baseline",
            Kind::Sla => "sla",
        }
    }
}
