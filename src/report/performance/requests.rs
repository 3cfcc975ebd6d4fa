//! The report's tables of what was measured, one per kind of request: generation per
//! model (with the fastest and the busiest named), embeddings per model, HTTP per endpoint.
//! Each table is a [`Layout`], so a column is one line.

use super::{Case, NONE, table};
use crate::metric::{Unit, format_value};
use crate::report::markdown::cell;
use crate::report::record::RequestKind;

/// One column: its header and what a case shows in it.
enum Column {
    /// A figure of the case, in its unit.
    Figure(&'static str, &'static str),
    /// A fact of the case.
    Fact(&'static str, for<'a> fn(&Case<'a>) -> String),
}

/// One kind's table: the section it heads, the cases it holds, its columns. Rows are
/// ordered by their cells from the first, the model or endpoint and then the check, so one
/// model's or one endpoint's checks sit together.
struct Layout {
    heading: &'static str,
    request: RequestKind,
    columns: &'static [Column],
}

const GENERATION: Layout = Layout {
    heading: "Generation",
    request: RequestKind::Generation,
    columns: &[
        Column::Fact("model", |case| case.model()),
        Column::Fact("check", |case| case.label()),
        Column::Fact("iterations", |case| case.iterations()),
        Column::Figure("TTFT avg", "ttft.mean"),
        Column::Figure("TTFT min", "ttft.min"),
        Column::Figure("TTFT max", "ttft.max"),
        Column::Figure("TTFT p95", "ttft.p95"),
        Column::Figure("tokens/s avg", "tokens_per_s.mean"),
        Column::Figure("tokens/s min", "tokens_per_s.min"),
        Column::Figure("tokens/s max", "tokens_per_s.max"),
        Column::Figure("tokens/s p95", "tokens_per_s.p95"),
        Column::Figure("tokens/s CoV", "tokens_per_s.cov"),
        Column::Fact("status", |case| case.status()),
    ],
};

const EMBEDDINGS: Layout = Layout {
    heading: "Embeddings",
    request: RequestKind::Embeddings,
    columns: &[
        Column::Fact("model", |case| case.model()),
        Column::Fact("check", |case| case.label()),
        Column::Fact("iterations", |case| case.iterations()),
        Column::Figure("latency avg", "latency.mean"),
        Column::Figure("latency p95", "latency.p95"),
        Column::Figure("inputs/s avg", "inputs_per_s.mean"),
        Column::Fact("status", |case| case.status()),
    ],
};

const HTTP: Layout = Layout {
    heading: "HTTP",
    request: RequestKind::Http,
    columns: &[
        Column::Fact("endpoint", endpoint),
        Column::Fact("check", |case| case.label()),
        Column::Fact("iterations", |case| case.iterations()),
        Column::Figure("latency avg", "latency.mean"),
        Column::Figure("latency p95", "latency.p95"),
        Column::Fact("requests/s", requests_per_s),
        Column::Fact("success rate", success_rate),
        Column::Fact("status", |case| case.status()),
    ],
};

/// The three tables, each only when its kind ran.
pub(super) fn tables(cases: &[&Case]) -> String {
    [
        kind_table(cases, &GENERATION),
        best_lines(cases),
        kind_table(cases, &EMBEDDINGS),
        kind_table(cases, &HTTP),
    ]
    .concat()
}

fn kind_table(cases: &[&Case], layout: &Layout) -> String {
    let show = |case: &Case, column: &Column| match column {
        Column::Figure(_, figure) => case.show(figure),
        Column::Fact(_, fact) => fact(case),
    };
    let mut rows: Vec<Vec<String>> = cases
        .iter()
        .filter(|case| case.facts.request == layout.request)
        .map(|case| layout.columns.iter().map(|c| show(case, c)).collect())
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort();
    let header: Vec<&str> = layout
        .columns
        .iter()
        .map(|column| match column {
            Column::Figure(header, _) | Column::Fact(header, _) => *header,
        })
        .collect();
    format!("\n## {}\n\n{}", layout.heading, table(&header, rows))
}

/// The fastest model (lowest median TTFT) and the highest throughput (highest median
/// tokens/s) among the generation cases.
fn best_lines(cases: &[&Case]) -> String {
    let generation: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|case| case.facts.request == RequestKind::Generation)
        .collect();
    let mut text = String::new();
    if let Some((case, ttft)) = best(&generation, "ttft.median", |a: f64, b: f64| b.total_cmp(&a)) {
        text.push_str(&format!(
            "\nFastest model (lowest median TTFT): {} ({}), {}.\n",
            case.model(),
            case.label(),
            format_value(ttft, Unit::Duration)
        ));
    }
    if let Some((case, rate)) = best(&generation, "tokens_per_s.median", |a: f64, b: f64| {
        a.total_cmp(&b)
    }) {
        text.push_str(&format!(
            "\nHighest throughput (highest median tokens/s): {} ({}), {} tokens/s.\n",
            case.model(),
            case.label(),
            format_value(rate, Unit::Rate)
        ));
    }
    text
}

/// The case with the greatest `figure` by `order`, when any case has it (a single model is
/// still named, so that a report reads the same whatever was run).
fn best<'a>(
    cases: &[&'a Case<'a>],
    figure: &str,
    order: impl Fn(f64, f64) -> std::cmp::Ordering,
) -> Option<(&'a Case<'a>, f64)> {
    let measured: Vec<(&Case, f64)> = cases
        .iter()
        .filter_map(|case| Some((*case, case.value(figure)?)))
        .collect();
    measured.into_iter().max_by(|a, b| order(a.1, b.1))
}

fn endpoint(case: &Case) -> String {
    cell(&case.facts.endpoint)
}

fn requests_per_s(case: &Case) -> String {
    case.facts
        .requests_per_s()
        .map_or_else(|| NONE.into(), |rate| format_value(rate, Unit::Rate))
}

/// The share of counted iterations that succeeded.
fn success_rate(case: &Case) -> String {
    let facts = case.facts;
    (facts.iterations > 0)
        .then(|| 1.0 - facts.failed as f64 / facts.iterations as f64)
        .map_or_else(|| NONE.into(), |rate| format_value(rate, Unit::Ratio))
}

#[cfg(test)]
mod tests {
    use crate::report::Record;
    use crate::report::fixtures::{
        assert_has, assert_lacks, embedding, endpoint, generation, section,
    };
    use crate::report::performance::render;
    use rstest::rstest;

    fn report(records: &[Record]) -> String {
        render(records, &[])
    }

    #[test]
    fn puts_each_case_in_its_kind_table() {
        let report = report(&[
            generation("chat", "smollm2", 0.12, 130.0),
            embedding("embed", "nomic"),
            endpoint("health"),
        ]);
        let generation = section(&report, "Generation");
        assert_has(
            generation,
            "| smollm2 | local::chat | 10 | 120ms | 108ms | 144ms | 132ms | 130 | - | - | - | 3% \
             | passed |",
        );
        assert_lacks(generation, "nomic");
        assert_has(
            section(&report, "Embeddings"),
            "| nomic | local::embed | 10 | 50ms | 80ms | 60 | passed |",
        );
        assert_has(
            section(&report, "HTTP"),
            "| GET /health | local::health | 10 (1 failed) | 2ms | 4ms | 2.5 | 90% | passed |",
        );
    }

    #[rstest]
    #[case::generation(generation("chat", "m", 0.1, 100.0), "Generation", &["Embeddings", "HTTP"])]
    #[case::embeddings(embedding("embed", "m"), "Embeddings", &["Generation", "HTTP"])]
    #[case::http(endpoint("health"), "HTTP", &["Generation", "Embeddings"])]
    fn shows_only_the_kinds_that_ran(
        #[case] record: Record,
        #[case] present: &str,
        #[case] absent: &[&str],
    ) {
        let report = report(&[record]);
        assert_has(&report, &format!("## {present}\n"));
        for heading in absent {
            assert_lacks(&report, &format!("## {heading}\n"));
        }
    }

    #[test]
    fn rows_of_one_model_sit_together() {
        let report = report(&[
            generation("b", "zeta", 0.1, 100.0),
            generation("c", "alpha", 0.1, 100.0),
            generation("a", "zeta", 0.1, 100.0),
        ]);
        let checks: Vec<&str> = section(&report, "Generation")
            .lines()
            .filter_map(|line| line.strip_prefix("| ")?.split(" | ").nth(1))
            .skip(1)
            .collect();
        assert_eq!(checks, ["local::c", "local::a", "local::b"]);
    }

    #[test]
    fn names_the_fastest_model_and_the_highest_throughput() {
        let report = report(&[
            generation("slow", "big-model", 0.4, 210.0),
            generation("quick", "small-model", 0.09, 95.5),
        ]);
        assert_has(
            &report,
            "Fastest model (lowest median TTFT): small-model (local::quick), 90ms.",
        );
        assert_has(
            &report,
            "Highest throughput (highest median tokens/s): big-model (local::slow), 210 tokens/s.",
        );
    }

    #[test]
    fn a_single_model_is_named_too() {
        let report = report(&[generation("chat", "only", 0.1, 100.0)]);
        assert_has(&report, "Fastest model (lowest median TTFT): only");
        assert_has(
            &report,
            "Highest throughput (highest median tokens/s): only",
        );
    }

    #[rstest]
    #[case::pipe("tiny|model", "| tiny\\|model | local::chat |")]
    #[case::line_break("two\nlines", "| two lines | local::chat |")]
    fn model_names_stay_in_their_cell(#[case] model: &str, #[case] row_start: &str) {
        assert_has(&report(&[generation("chat", model, 0.1, 100.0)]), row_start);
    }

    #[test]
    fn requests_per_second_need_busy_time() {
        let mut record = endpoint("health");
        let facts = record.baseline.as_mut().unwrap();
        facts.busy_s = 0.0;
        facts.iterations = 0;
        facts.failed = 0;
        assert_has(
            &report(&[record]),
            "| GET /health | local::health | 0 | 2ms | 4ms | - | - | passed |",
        );
    }
}
