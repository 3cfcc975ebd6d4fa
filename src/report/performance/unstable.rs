//! Figures too spread to judge a regression by.

use super::{Case, table};
use crate::metric::{Unit, format_value};

/// A coefficient of variation above this is flagged: a spread that size is as large as the
/// usual 10% tolerance, so a regression of the tolerance's size hides in the noise and a
/// comparison comes out inconclusive rather than regressed.
const UNSTABLE_COV: f64 = 0.10;

/// The metrics whose spread is watched: the time and the rate each kind of request is
/// judged by.
const WATCHED: &[&str] = &["ttft", "tokens_per_s", "latency", "inputs_per_s"];

pub(super) fn unstable(cases: &[&Case]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let bound = format_value(UNSTABLE_COV, Unit::Ratio);
    let rows: Vec<Vec<String>> = cases
        .iter()
        .flat_map(|case| {
            WATCHED.iter().filter_map(|metric| {
                let name = format!("{metric}.cov");
                let cov = case.value(&name)?;
                (cov > UNSTABLE_COV)
                    .then(|| vec![case.label(), name, format_value(cov, Unit::Ratio)])
            })
        })
        .collect();
    let mut text = format!(
        "\n## Unstable figures\n\nA coefficient of variation (stddev / mean) above {bound} is \
         flagged: a spread that size is as large as a {bound} tolerance, so a regression of the \
         tolerance's size hides in the noise and its comparison comes out inconclusive rather \
         than regressed.\n\n"
    );
    if rows.is_empty() {
        text.push_str(&format!(
            "No CoV of {} is above {bound}.\n",
            WATCHED.join(", ")
        ));
    } else {
        text.push_str(&table(&["check", "figure", "CoV"], rows));
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::report::fixtures::{assert_has, embedding, generation, section};
    use crate::report::performance::render;
    use rstest::rstest;

    #[rstest]
    #[case::spread("ttft.cov", 0.25, "| local::chat | ttft.cov | 25% |")]
    #[case::throughput(
        "tokens_per_s.cov",
        0.125,
        "| local::chat | tokens_per_s.cov | 12.5% |"
    )]
    #[case::steady(
        "ttft.cov",
        0.05,
        "No CoV of ttft, tokens_per_s, latency, inputs_per_s is above 10%."
    )]
    #[case::at_the_bound("ttft.cov", 0.1, "No CoV")]
    fn flags_spreads_above_the_bound(#[case] name: &str, #[case] cov: f64, #[case] expected: &str) {
        let mut record = generation("chat", "m", 0.1, 100.0);
        let figure = record.figures.iter_mut().find(|f| f.name == name).unwrap();
        figure.value = cov;
        let report = render(&[record, embedding("embed", "e")], &[]);
        let unstable = section(&report, "Unstable figures");
        assert_has(unstable, "above 10% is flagged");
        assert_has(unstable, expected);
    }
}
