//! Judging the vectors of an embeddings request: the rules every response must meet, the
//! check's `dimensions`, and thresholds on its figures.

use std::ops::Range;

use super::inference::judge_thresholds;
use super::{Cause, Violation};
use crate::metric::Figure;
use crate::scenario::InferenceExpect;

/// Every violated rule and expectation. Whatever the check expects, a response must have
/// one vector per input, none of them empty, every value finite, all of one length: a
/// vector of NaNs or a batch short of one input is a wrong answer even at the right size.
/// Those rules have no key of their own and are placed at the check's `input`; each
/// violation names the inputs whose vectors broke it, one line for all that broke it alike
/// (a whole batch of the wrong size is one line, not one per input).
pub fn judge_embeddings(
    expect: &InferenceExpect,
    input_at: &Range<usize>,
    inputs: usize,
    vectors: &[Vec<f64>],
    figures: &[Figure],
) -> Vec<Violation> {
    let mut violations = Vec::new();
    if vectors.len() != inputs {
        violations.push(
            Violation::new(
                Cause::Answer,
                "embeddings",
                format!("one vector per input ({inputs})"),
                format!("{} vector{}", vectors.len(), plural(vectors.len())),
            )
            .at(input_at.clone()),
        );
    }
    let mut found = Found::default();
    // The length the others are held to when the check does not say: the first vector's.
    let first = vectors.iter().position(|vector| !vector.is_empty());
    for (i, vector) in vectors.iter().enumerate().take(inputs) {
        if vector.is_empty() {
            found.note(
                i,
                "a non-empty list of numbers".into(),
                "an empty list".into(),
                input_at,
            );
            continue;
        }
        let mut non_finite = vector.iter().enumerate().filter(|(_, v)| !v.is_finite());
        if let Some((position, value)) = non_finite.next() {
            let more = match non_finite.count() {
                0 => String::new(),
                more => format!(" and {more} more"),
            };
            found.note(
                i,
                "finite values".into(),
                format!("{value} at position {position}{more}"),
                input_at,
            );
        }
        match (&expect.dimensions, first) {
            (Some(dimensions), _) if vector.len() as u64 != *dimensions.get_ref() => {
                found.note(
                    i,
                    format!("{} dimensions", dimensions.get_ref()),
                    vector.len().to_string(),
                    &dimensions.span(),
                );
            }
            (None, Some(first)) if vector.len() != vectors[first].len() => {
                found.note(
                    i,
                    format!(
                        "{} dimensions, as the vector of input {first}",
                        vectors[first].len()
                    ),
                    vector.len().to_string(),
                    input_at,
                );
            }
            _ => {}
        }
    }
    violations.extend(found.0.into_iter().map(|(broken, inputs)| {
        Violation::new(
            Cause::Answer,
            vectors_of(&inputs),
            broken.expected,
            broken.observed,
        )
        .at(broken.at)
    }));
    judge_thresholds(expect, figures, &mut violations);
    violations
}

/// One way vectors broke a rule or an expectation.
#[derive(PartialEq)]
struct Broken {
    expected: String,
    observed: String,
    at: Range<usize>,
}

/// Each way a vector broke something, with the inputs whose vectors broke it so, in the
/// order first seen.
#[derive(Default)]
struct Found(Vec<(Broken, Vec<usize>)>);

impl Found {
    fn note(&mut self, input: usize, expected: String, observed: String, at: &Range<usize>) {
        let broken = Broken {
            expected,
            observed,
            at: at.clone(),
        };
        match self.0.iter_mut().find(|(seen, _)| *seen == broken) {
            Some((_, inputs)) => inputs.push(input),
            None => self.0.push((broken, vec![input])),
        }
    }
}

/// How many input numbers a violation lists before it only counts them.
const LISTED: usize = 8;

/// `vector of input 2`, `vectors of inputs 0, 1, 2`, `vectors of inputs 0, 1, …, 7, … (100
/// in all)`.
fn vectors_of(inputs: &[usize]) -> String {
    if let [input] = inputs {
        return format!("vector of input {input}");
    }
    let listed: Vec<String> = inputs
        .iter()
        .take(LISTED)
        .map(ToString::to_string)
        .collect();
    let more = if inputs.len() > LISTED {
        format!(", … ({} in all)", inputs.len())
    } else {
        String::new()
    };
    format!("vectors of inputs {}{more}", listed.join(", "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const INPUT_AT: Range<usize> = 1000..1010;

    fn expect(rules: &str) -> InferenceExpect {
        super::super::inference_expect("input = [\"a\", \"b\"]", rules)
    }

    fn judge(rules: &str, inputs: usize, vectors: &[Vec<f64>]) -> Vec<(String, bool)> {
        let figures: Vec<Figure> = vectors
            .first()
            .map(|v| Figure::new("dimensions", v.len() as f64))
            .into_iter()
            .collect();
        judge_embeddings(&expect(rules), &INPUT_AT, inputs, vectors, &figures)
            .into_iter()
            .map(|v| (v.to_string(), v.at == Some(INPUT_AT)))
            .collect()
    }

    fn v(values: &[f64]) -> Vec<f64> {
        values.to_vec()
    }

    #[rstest]
    #[case::one_good("{}", 1, &[v(&[0.1, -0.2])], &[])]
    #[case::batch_good("{ dimensions = 2 }", 2, &[v(&[0.1, 0.2]), v(&[0.3, 0.4])], &[])]
    #[case::missing_vector("{}", 3, &[v(&[0.1]), v(&[0.2])],
        &[("embeddings: expected one vector per input (3), observed 2 vectors", true)])]
    #[case::no_vector("{}", 1, &[],
        &[("embeddings: expected one vector per input (1), observed 0 vectors", true)])]
    #[case::extra_vector("{}", 1, &[v(&[0.1]), v(&[0.2])],
        &[("embeddings: expected one vector per input (1), observed 2 vectors", true)])]
    #[case::empty("{}", 2, &[v(&[0.1]), v(&[])],
        &[("vector of input 1: expected a non-empty list of numbers, observed an empty list", true)])]
    #[case::nan("{}", 1, &[v(&[0.1, f64::NAN])],
        &[("vector of input 0: expected finite values, observed NaN at position 1", true)])]
    #[case::several_infinities("{}", 2, &[v(&[0.1, 0.2, 0.3]), v(&[f64::INFINITY, 0.0, f64::NEG_INFINITY])],
        &[("vector of input 1: expected finite values, observed inf at position 0 and 1 more", true)])]
    #[case::lengths_differ("{}", 3, &[v(&[]), v(&[0.1, 0.2]), v(&[0.3])],
        &[("vector of input 0: expected a non-empty list of numbers, observed an empty list", true),
          ("vector of input 2: expected 2 dimensions, as the vector of input 1, observed 1", true)])]
    #[case::wrong_dimensions("{ dimensions = 3 }", 2, &[v(&[0.1, 0.2]), v(&[0.3, 0.4, 0.5])],
        &[("vector of input 0: expected 3 dimensions, observed 2", false)])]
    #[case::a_batch_of_the_wrong_size("{ dimensions = 3 }", 3, &[v(&[0.1, 0.2]), v(&[0.3, 0.4]), v(&[0.5, 0.6])],
        &[("vectors of inputs 0, 1, 2: expected 3 dimensions, observed 2", false)])]
    #[case::empties_and_nans("{}", 4, &[v(&[]), v(&[f64::NAN]), v(&[]), v(&[f64::NAN])],
        &[("vectors of inputs 0, 2: expected a non-empty list of numbers, observed an empty list", true),
          ("vectors of inputs 1, 3: expected finite values, observed NaN at position 0", true)])]
    #[case::dimensions_threshold("{ dimensions = \">= 3\" }", 1, &[v(&[0.1, 0.2])],
        &[("dimensions: expected >= 3, observed 2", false)])]
    fn judges_the_vectors(
        #[case] rules: &str,
        #[case] inputs: usize,
        #[case] vectors: &[Vec<f64>],
        #[case] expected: &[(&str, bool)],
    ) {
        let expected: Vec<(String, bool)> = expected
            .iter()
            .map(|(message, at_input)| (message.to_string(), *at_input))
            .collect();
        assert_eq!(judge(rules, inputs, vectors), expected);
    }

    #[rstest]
    #[case(&[4], "vector of input 4")]
    #[case(&[0, 3], "vectors of inputs 0, 3")]
    #[case(&[0, 1, 2, 3, 4, 5, 6, 7], "vectors of inputs 0, 1, 2, 3, 4, 5, 6, 7")]
    #[case(&[0, 1, 2, 3, 4, 5, 6, 7, 9], "vectors of inputs 0, 1, 2, 3, 4, 5, 6, 7, … (9 in all)")]
    fn names_the_inputs(#[case] inputs: &[usize], #[case] expected: &str) {
        assert_eq!(vectors_of(inputs), expected);
    }

    #[test]
    fn thresholds_on_figures_the_response_lacks_fail() {
        let violations = judge_embeddings(
            &expect("{ load_duration = \"< 1s\", latency = \"< 1s\" }"),
            &INPUT_AT,
            1,
            &[v(&[0.1])],
            &[Figure::new("latency", 0.5)],
        );
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].cause, Cause::Threshold);
        assert!(
            violations[0]
                .to_string()
                .starts_with("load_duration: expected < 1s, observed no value")
        );
    }
}
