//! What perfcase keeps between runs: stored baselines (`PERFCASE_BASELINES`, committed by
//! a team) and the run history (`history.csv` in the artifacts folder). Both are read and
//! written under a file lock, and written atomically or appended whole, so concurrent runs
//! (nextest's processes, two CI jobs sharing a folder) never corrupt them.

pub mod baselines;
pub mod history;
