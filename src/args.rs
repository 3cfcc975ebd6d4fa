//! The command line: libtest's arguments, parsed by libtest-mimic, plus what it lacks.
//! libtest takes any number of filters (`-- smoke:: inference::`) and runs the cases that
//! match any of them; libtest-mimic takes one. The positional filters are taken out here,
//! the rest goes to libtest-mimic unchanged, and [`Args::is_filtered_out`] applies them all.

use libtest_mimic::{Arguments, Trial};

/// libtest options that take a value as the next argument; everything else that does not
/// start with `-` is a filter.
const TAKES_VALUE: &[&str] = &[
    "--test-threads",
    "--logfile",
    "--skip",
    "--color",
    "--format",
    "-Z",
];

pub struct Args {
    /// What libtest-mimic parsed; its own filter is set only when there is exactly one.
    pub libtest: Arguments,
    /// Every positional filter given.
    pub filters: Vec<String>,
}

impl Args {
    pub fn from_env() -> Args {
        Args::parse(std::env::args())
    }

    /// Parses a command line, the program name first.
    pub fn parse(command_line: impl IntoIterator<Item = String>) -> Args {
        let (rest, filters) = split_filters(command_line.into_iter().collect());
        let mut libtest = Arguments::from_iter(rest);
        if let [only] = filters.as_slice() {
            libtest.filter = Some(only.clone());
        }
        Args { libtest, filters }
    }

    /// Whether the run leaves this trial out: by `--skip`, `--ignored`, or because no
    /// filter matches its name (exactly, with `--exact`).
    pub fn is_filtered_out(&self, trial: &Trial) -> bool {
        if self.libtest.is_filtered_out(trial) {
            return true;
        }
        if self.filters.len() < 2 {
            return false;
        }
        let name = trial.name();
        !self.filters.iter().any(|filter| match self.libtest.exact {
            true => name == filter,
            false => name.contains(filter.as_str()),
        })
    }
}

/// Splits the positional filters from the rest (program name, flags and their values).
/// After a bare `--`, libtest reads everything as a filter.
fn split_filters(arguments: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut rest = Vec::new();
    let mut filters = Vec::new();
    let mut arguments = arguments.into_iter();
    rest.extend(arguments.next());
    while let Some(argument) = arguments.next() {
        if argument == "--" {
            filters.extend(arguments.by_ref());
        } else if TAKES_VALUE.contains(&argument.as_str()) {
            rest.push(argument);
            rest.extend(arguments.next());
        } else if argument.starts_with('-') {
            rest.push(argument);
        } else {
            filters.push(argument);
        }
    }
    (rest, filters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[rstest]
    #[case("perf", "perf", "")]
    #[case("perf smoke::", "perf", "smoke::")]
    #[case("perf smoke:: inference::", "perf", "smoke:: inference::")]
    #[case(
        "perf --test-threads 1 a --skip b --exact c",
        "perf --test-threads 1 --skip b --exact",
        "a c"
    )]
    #[case(
        "perf --format=terse -Z unstable-options x",
        "perf --format=terse -Z unstable-options",
        "x"
    )]
    #[case("perf --list -- --odd-name", "perf --list", "--odd-name")]
    fn splits(#[case] line: &str, #[case] rest: &str, #[case] filters: &str) {
        assert_eq!(split_filters(words(line)), (words(rest), words(filters)));
    }

    fn out(line: &str, name: &str) -> bool {
        Args::parse(words(line)).is_filtered_out(&Trial::test(name, || Ok(())))
    }

    #[rstest]
    #[case("perf", "smoke::a::x", false)]
    #[case("perf smoke::", "inference::a::x", true)]
    #[case("perf smoke:: inference::", "inference::a::x", false)]
    #[case("perf smoke:: inference::", "load::a", true)]
    #[case("perf --exact smoke::a::x inference::a::y", "smoke::a::x", false)]
    #[case("perf --exact smoke::a inference::a::y", "smoke::a::x", true)]
    #[case("perf smoke:: inference:: --skip ::x", "smoke::a::x", true)]
    fn filters(#[case] line: &str, #[case] name: &str, #[case] filtered_out: bool) {
        assert_eq!(out(line, name), filtered_out);
    }
}
