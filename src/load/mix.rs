//! A request mix: several named requests sent in one run in fixed proportions (60%
//! search, 30% checkout, 10% export), measured each on its own and together.
//!
//! Which part the run's n-th request is comes from one fixed cycle of the smooth weighted
//! round-robin (nginx's upstream balancing): over any whole cycle every part is sent
//! exactly its weight's share, and within a cycle the parts are interleaved as evenly as
//! the weights allow (3:1 reads a a b a, not a a a b), so every prefix of the run is within
//! one request per part of its exact share. The engine numbers the requests of a run in
//! one sequence (an open loop's schedule; a closed loop's sends, counted across threads),
//! so the proportions hold over the run however its requests are dealt to threads, slots
//! and users. A random choice would give 60/30/10 only on average, and a short run could
//! miss a 1% part entirely.

use std::future::Future;

use super::engine::Request;
use super::record::{ErrorKind, Sample};

/// The most requests one cycle of the mix may span: weights whose sum (divided by their
/// greatest common divisor) exceeds it are finer than any run needs.
pub const MAX_CYCLE: u64 = 1 << 20;

/// Why a mix cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("a request mix needs at least one request")]
    Empty,
    #[error("request \"{0}\" has weight 0; give it a weight of at least 1 or leave it out")]
    ZeroWeight(String),
    #[error("request \"{0}\" is named twice in the mix; give each request its own name")]
    Duplicate(String),
    #[error(
        "the mix's weights add up to {0} after dividing by their common divisor, over the {MAX_CYCLE} a cycle may span; use coarser weights (60, 30, 10 rather than 600001, ...)"
    )]
    TooFine(u64),
}

/// Several named, weighted requests sent as one: itself a [`Request`], whose parts the
/// engine tallies separately.
pub struct Mix<R> {
    names: Vec<String>,
    requests: Vec<R>,
    /// The part of each request of one cycle.
    cycle: Vec<u32>,
}

impl<R> Mix<R> {
    pub fn new(parts: Vec<(String, u64, R)>) -> Result<Mix<R>, MixError> {
        if parts.is_empty() {
            return Err(MixError::Empty);
        }
        let mut names = Vec::with_capacity(parts.len());
        let mut weights = Vec::with_capacity(parts.len());
        let mut requests = Vec::with_capacity(parts.len());
        for (name, weight, request) in parts {
            if weight == 0 {
                return Err(MixError::ZeroWeight(name));
            }
            if names.contains(&name) {
                return Err(MixError::Duplicate(name));
            }
            names.push(name);
            weights.push(weight);
            requests.push(request);
        }
        let cycle = cycle(&weights)?;
        Ok(Mix {
            names,
            requests,
            cycle,
        })
    }

    /// The requests of the mix, in the order of its parts: what a run leaves of them (a
    /// request may keep what it met, such as why requests failed).
    pub fn into_requests(self) -> Vec<R> {
        self.requests
    }

    /// The part of the run's `n`-th request (from 0).
    pub fn part_of(&self, n: u64) -> usize {
        self.cycle[(n % self.cycle.len() as u64) as usize] as usize
    }
}

/// One cycle of the smooth weighted round-robin over `weights` (each at least 1), reduced
/// by their greatest common divisor: each step adds every part's weight to its credit and
/// sends the part of the highest credit (the first on a tie), which gives up the sum.
fn cycle(weights: &[u64]) -> Result<Vec<u32>, MixError> {
    let divisor = weights.iter().copied().fold(0, gcd);
    let weights: Vec<u64> = weights.iter().map(|w| w / divisor).collect();
    let total = weights
        .iter()
        .try_fold(0u64, |sum, w| sum.checked_add(*w))
        .filter(|total| *total <= MAX_CYCLE)
        .ok_or_else(|| MixError::TooFine(weights.iter().fold(0u64, |s, w| s.saturating_add(*w))))?;
    let mut credit = vec![0i64; weights.len()];
    let mut cycle = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, w) in credit.iter_mut().zip(&weights) {
            *c += *w as i64;
        }
        let best = (0..credit.len())
            .max_by(|a, b| credit[*a].cmp(&credit[*b]).then(b.cmp(a)))
            .expect("a mix has a part");
        credit[best] -= total as i64;
        cycle.push(best as u32);
    }
    Ok(cycle)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl<R: Request> Request for Mix<R> {
    /// One worker (one connection) for every part, as one user sends several kinds of
    /// request over the same connection.
    type Worker = R::Worker;

    fn worker(&self) -> R::Worker {
        self.requests[0].worker()
    }

    /// The first part: the engine sends a mix through [`Request::send_part`].
    fn send(&self, worker: &mut R::Worker) -> impl Future<Output = Result<Sample, ErrorKind>> {
        self.requests[0].send(worker)
    }

    fn parts(&self) -> Vec<String> {
        self.names.clone()
    }

    fn part(&self, n: u64) -> usize {
        self.part_of(n)
    }

    fn send_part(
        &self,
        worker: &mut R::Worker,
        part: usize,
    ) -> impl Future<Output = Result<Sample, ErrorKind>> {
        self.requests[part].send(worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn mix(weights: &[u64]) -> Mix<()> {
        let parts = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("p{i}"), *w, ()))
            .collect();
        Mix::new(parts).unwrap()
    }

    fn counts(mix: &Mix<()>, from: u64, requests: u64) -> Vec<u64> {
        let mut counts = vec![0; mix.names.len()];
        for n in from..from + requests {
            counts[mix.part_of(n)] += 1;
        }
        counts
    }

    #[rstest]
    #[case(&[60, 30, 10], 1000)]
    #[case(&[60, 30, 10], 997)]
    #[case(&[3, 1], 10)]
    #[case(&[1, 1, 1], 100)]
    #[case(&[99, 1], 150)]
    #[case(&[7, 5, 3, 1], 1001)]
    #[case(&[1], 5)]
    fn every_prefix_is_within_one_request_of_its_share(
        #[case] weights: &[u64],
        #[case] requests: u64,
    ) {
        let mix = mix(weights);
        let total: u64 = weights.iter().sum();
        for prefix in 1..=requests {
            let counts = counts(&mix, 0, prefix);
            for (count, weight) in counts.iter().zip(weights) {
                let exact = prefix as f64 * *weight as f64 / total as f64;
                assert!(
                    (*count as f64 - exact).abs() < 1.0,
                    "{weights:?} after {prefix}: {counts:?}"
                );
            }
        }
    }

    #[rstest]
    #[case(&[60, 30, 10], 0, 1000, &[600, 300, 100])]
    #[case(&[60, 30, 10], 37, 1000, &[600, 300, 100])]
    #[case(&[3, 1], 0, 8, &[6, 2])]
    #[case(&[2, 2], 0, 6, &[3, 3])]
    fn whole_cycles_are_exact_wherever_they_start(
        #[case] weights: &[u64],
        #[case] from: u64,
        #[case] requests: u64,
        #[case] expected: &[u64],
    ) {
        assert_eq!(counts(&mix(weights), from, requests), expected);
    }

    #[rstest]
    #[case(&[3, 1], &[0, 0, 1, 0])]
    #[case(&[1, 1], &[0, 1])]
    #[case(&[20, 20], &[0, 1])]
    #[case(&[1, 2], &[1, 0, 1])]
    fn parts_are_interleaved(#[case] weights: &[u64], #[case] expected: &[u32]) {
        assert_eq!(mix(weights).cycle, expected);
    }

    #[rstest]
    #[case(vec![], MixError::Empty)]
    #[case(vec![("a", 1), ("b", 0)], MixError::ZeroWeight("b".into()))]
    #[case(vec![("a", 1), ("a", 2)], MixError::Duplicate("a".into()))]
    #[case(vec![("a", MAX_CYCLE), ("b", 1)], MixError::TooFine(MAX_CYCLE + 1))]
    #[case(vec![("a", u64::MAX), ("b", u64::MAX - 1)], MixError::TooFine(u64::MAX))]
    fn bad_mixes_say_why(#[case] parts: Vec<(&str, u64)>, #[case] expected: MixError) {
        let parts = parts
            .into_iter()
            .map(|(n, w)| (n.to_string(), w, ()))
            .collect();
        assert_eq!(Mix::new(parts).err(), Some(expected));
    }
}
