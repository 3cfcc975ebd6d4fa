//! Stored baselines: `<PERFCASE_BASELINES>/<scenario>.json`, one entry per check, written
//! pretty-printed with sorted keys so that a team reviews and commits them as diffs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::{lock, write_atomic};

/// The file of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredFile {
    /// The format's version: 1.
    pub format: u32,
    /// Keyed by the check's name within the scenario (`generate`).
    pub checks: BTreeMap<String, StoredCheck>,
}

/// One check's measurement, kept as the baseline later runs compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCheck {
    /// When it was measured, RFC 3339 in UTC.
    pub recorded_at: String,
    /// The perfcase that measured it: another version may measure differently.
    pub perfcase_version: String,
    pub against: RecordedAgainst,
    /// Iterations counted, failed ones included.
    pub iterations: usize,
    /// Every statistic of every metric (`tokens_per_s.median`), in base units.
    pub figures: BTreeMap<String, f64>,
    /// The values of each metric (`ttft`), at most [`MAX_STORED_SAMPLES`]: what the gate
    /// resamples.
    pub samples: BTreeMap<String, Vec<f64>>,
}

/// What was measured: a stored baseline is only meaningful against the same server,
/// model and machine, and the comparison says so when they differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedAgainst {
    /// The target's origin (`http://127.0.0.1:8080`): never its path, query or credentials.
    pub server: String,
    /// `ollama`, `openai` or `http`.
    pub api: String,
    /// The version the server reports, where it reports one.
    pub server_version: Option<String>,
    /// The model the check asks for, where it names one.
    pub model: Option<String>,
    /// The model's digest, where the server reports one: the same name may be another
    /// model after a pull.
    pub model_digest: Option<String>,
    /// `linux x86_64, 2 CPUs`.
    pub machine: String,
}

/// At most this many values of a metric are stored: enough for the gate (its tests use
/// ten), few enough that the file stays reviewable.
pub const MAX_STORED_SAMPLES: usize = 1_000;

/// `PERFCASE_UPDATE`: what a run does with its measurements, in the spirit of insta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Write nothing (the default under `CI`).
    No,
    /// Write `<scenario>.json.new` beside the stored file for review (the default
    /// elsewhere).
    New,
    /// Rewrite `<scenario>.json` in place.
    Always,
}

/// Why `PERFCASE_UPDATE` has no meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateModeError {
    #[error("PERFCASE_UPDATE is {0:?}: set it to no, new or always, or leave it unset")]
    Unknown(String),
}

impl UpdateMode {
    /// The mode `PERFCASE_UPDATE` asks for; unset or empty means the default, which
    /// depends on `ci` (see [`is_ci`]) because a CI job must not write files nobody
    /// reviews. The caller reads the environment.
    pub fn parse(value: Option<&str>, ci: bool) -> Result<UpdateMode, UpdateModeError> {
        match value.unwrap_or_default() {
            "" if ci => Ok(UpdateMode::No),
            "" => Ok(UpdateMode::New),
            "no" => Ok(UpdateMode::No),
            "new" => Ok(UpdateMode::New),
            "always" => Ok(UpdateMode::Always),
            other => Err(UpdateModeError::Unknown(other.to_string())),
        }
    }
}

/// Whether the value of `CI` says this is a CI job: CI services set it to `true` (or `1`),
/// and people set it to `false` or `0` to say it is not.
pub fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The only format this perfcase reads and writes.
const FORMAT: u32 = 1;

/// A stored file larger than this is refused rather than read: a file of
/// [`MAX_STORED_SAMPLES`] values per metric is a few hundred KiB, so a larger one is not a
/// baseline perfcase wrote.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Taken for every read-modify-write of a scenario's files: nextest runs each case in a
/// process of its own, so checks of one scenario may be saved at the same moment. It stays
/// in the folder (removing it would race with a process about to take it); a team that
/// commits the folder ignores it.
const LOCK_FILE: &str = ".perfcase-baselines.lock";

/// What the reader of a broken stored file can do about it.
const FIX_HINT: &str =
    "fix the file or delete it and record a new baseline with PERFCASE_UPDATE=always";

/// Why stored baselines could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read stored baselines {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored baselines {} are larger than {} MiB, too large to be a file perfcase wrote; {FIX_HINT}", path.display(), MAX_FILE_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("{}:{line}:{column}: {message}; {FIX_HINT}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("stored baselines {} have format {found}, but this perfcase reads format {FORMAT} only; use the perfcase that wrote them or record a new baseline with PERFCASE_UPDATE=always", path.display())]
    Format { path: PathBuf, found: u32 },
    #[error("cannot store check {check:?} in {}: {name} is {value}, which JSON cannot hold; this is a bug in perfcase, please report it", path.display())]
    NotFinite {
        path: PathBuf,
        check: String,
        name: String,
        value: f64,
    },
    #[error("cannot create the baselines folder {}: {source}; check PERFCASE_BASELINES and its permissions", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {} to update stored baselines: {source}", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write stored baselines {}: {source}; check PERFCASE_BASELINES and its permissions", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The stored baselines of a scenario, `<dir>/<scenario>.json`, or `None` when none were
/// recorded yet.
pub fn load(dir: &Path, scenario: &str) -> Result<Option<StoredFile>, StoreError> {
    read_at(&stored_path(dir, scenario))
}

/// Records one check's entry (its samples already [`thin`]ned) as `mode` says, keeping the
/// other checks' entries, and returns the path written (`None` for [`UpdateMode::No`]).
///
/// [`UpdateMode::New`] starts from the `.json.new` left by earlier checks of this run
/// (`run`: its id, the same in every nextest process of a run), else from the stored
/// `.json`, so that `mv <scenario>.json.new <scenario>.json` accepts this run's
/// measurements and nothing older.
pub fn save(
    dir: &Path,
    scenario: &str,
    check: &str,
    entry: StoredCheck,
    mode: UpdateMode,
    run: &str,
) -> Result<Option<PathBuf>, StoreError> {
    let target = match mode {
        UpdateMode::No => return Ok(None),
        UpdateMode::New => new_path(dir, scenario),
        UpdateMode::Always => stored_path(dir, scenario),
    };
    refuse_non_finite(&target, check, &entry)?;
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let lock_path = dir.join(LOCK_FILE);
    let _lock = lock(&lock_path).map_err(|source| StoreError::Lock {
        path: lock_path,
        source,
    })?;
    let mut file = current(dir, scenario, mode, run)?.unwrap_or_else(|| StoredFile {
        format: FORMAT,
        checks: BTreeMap::new(),
    });
    file.checks.insert(check.to_string(), entry);
    write_atomic(&target, &render(&file)).map_err(|source| StoreError::Write {
        path: target.clone(),
        source,
    })?;
    if mode == UpdateMode::New {
        let marker = run_marker(dir, scenario);
        write_atomic(&marker, run.as_bytes()).map_err(|source| StoreError::Write {
            path: marker,
            source,
        })?;
    }
    Ok(Some(target))
}

/// Which run wrote `<scenario>.json.new`: a `.json.new` of an earlier run is stale (its
/// entries of checks not run since would be accepted with it), so a run starts its own
/// from the stored file instead.
fn run_marker(dir: &Path, scenario: &str) -> PathBuf {
    dir.join(format!(".{scenario}.json.new.run"))
}

/// What a save starts from: see [`save`].
fn current(
    dir: &Path,
    scenario: &str,
    mode: UpdateMode,
    run: &str,
) -> Result<Option<StoredFile>, StoreError> {
    let this_run = || std::fs::read_to_string(run_marker(dir, scenario)).is_ok_and(|id| id == run);
    if mode == UpdateMode::New
        && this_run()
        && let Some(file) = read_at(&new_path(dir, scenario))?
    {
        return Ok(Some(file));
    }
    load(dir, scenario)
}

fn stored_path(dir: &Path, scenario: &str) -> PathBuf {
    dir.join(format!("{scenario}.json"))
}

fn new_path(dir: &Path, scenario: &str) -> PathBuf {
    dir.join(format!("{scenario}.json.new"))
}

fn read_at(path: &Path) -> Result<Option<StoredFile>, StoreError> {
    let Some(text) = read_bounded(path)? else {
        return Ok(None);
    };
    let malformed = |error: serde_json::Error| StoreError::Malformed {
        path: path.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message: json_message(&error),
    };
    // The version first, so that a file of another format is named as such rather than
    // as a file with unknown fields.
    let version: Version = serde_json::from_slice(&text).map_err(malformed)?;
    match version.format {
        Some(found) if found != FORMAT => Err(StoreError::Format {
            path: path.to_path_buf(),
            found,
        }),
        _ => serde_json::from_slice(&text).map(Some).map_err(malformed),
    }
}

/// Only the format of a stored file, whatever else it holds.
#[derive(Deserialize)]
struct Version {
    format: Option<u32>,
}

/// The bytes of a file of at most [`MAX_FILE_BYTES`], or `None` when there is none.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let read_error = |source| StoreError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(read_error(error)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(bytes))
}

/// serde_json's message without the ` at line L column C` it appends, which the error
/// places as `path:line:col` instead.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let place = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&place).unwrap_or(&text).to_string()
}

/// serde_json writes a NaN or an infinity as `null`, which would make the file unreadable:
/// refuse it before writing (measurements give `None` rather than such a value, so one
/// here is a bug).
fn refuse_non_finite(path: &Path, check: &str, entry: &StoredCheck) -> Result<(), StoreError> {
    match first_non_finite(entry) {
        Some((name, value)) => Err(StoreError::NotFinite {
            path: path.to_path_buf(),
            check: check.to_string(),
            name,
            value,
        }),
        None => Ok(()),
    }
}

/// The first figure or sample value that is not finite, named (`ttft value 2`).
fn first_non_finite(entry: &StoredCheck) -> Option<(String, f64)> {
    let figure = entry.figures.iter().find(|(_, v)| !v.is_finite());
    let figure = figure.map(|(name, value)| (name.clone(), *value));
    figure.or_else(|| {
        entry.samples.iter().find_map(|(name, values)| {
            let (index, value) = values.iter().enumerate().find(|(_, v)| !v.is_finite())?;
            Some((format!("{name} value {}", index + 1), *value))
        })
    })
}

/// Pretty JSON with a final newline: keys are sorted (the maps are `BTreeMap`s), so a
/// re-recorded baseline is a small diff to review.
fn render(file: &StoredFile) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(file)
        .expect("a stored file serializes: its maps have string keys");
    bytes.push(b'\n');
    bytes
}

/// At most [`MAX_STORED_SAMPLES`] of `values`: all of them, in their order, when they are
/// few enough; else evenly spaced order statistics of the sorted values, the least and the
/// greatest included, so that the median and the spread the gate compares survive.
pub fn thin(values: &[f64]) -> Vec<f64> {
    thin_to(values, MAX_STORED_SAMPLES)
}

fn thin_to(values: &[f64], max: usize) -> Vec<f64> {
    if values.len() <= max {
        return values.to_vec();
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let last = sorted.len() - 1;
    let steps = max - 1;
    // The i-th kept rank is i·last/steps, rounded to the nearest: rank 0 and rank `last`
    // are kept, and ranks never repeat because there are more values than kept ones.
    (0..max)
        .map(|i| sorted[(i * last + steps / 2) / steps])
        .collect()
}

/// The machine a baseline was measured on (`linux x86_64, 2 CPUs`): a baseline from
/// another machine is not a fair comparison, and the comparison says so.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().ok().map(usize::from);
    describe_machine(std::env::consts::OS, std::env::consts::ARCH, cpus)
}

fn describe_machine(os: &str, arch: &str, cpus: Option<usize>) -> String {
    match cpus {
        Some(1) => format!("{os} {arch}, 1 CPU"),
        Some(n) => format!("{os} {arch}, {n} CPUs"),
        None => format!("{os} {arch}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::sync::{Arc, Barrier};

    const RUN: &str = "run-1";

    fn entry(median: f64) -> StoredCheck {
        StoredCheck {
            recorded_at: "2026-11-27T21:50:00Z".into(),
            perfcase_version: "0.1.0".into(),
            against: RecordedAgainst {
                server: "http://127.0.0.1:8080".into(),
                api: "ollama".into(),
                machine: "linux x86_64, 2 CPUs".into(),
                ..RecordedAgainst::default()
            },
            iterations: 3,
            figures: BTreeMap::from([("ttft.median".to_string(), median)]),
            samples: BTreeMap::from([("ttft".to_string(), vec![median, median * 2.0])]),
        }
    }

    fn file_of(checks: &[(&str, f64)]) -> StoredFile {
        StoredFile {
            format: FORMAT,
            checks: checks
                .iter()
                .map(|(name, median)| (name.to_string(), entry(*median)))
                .collect(),
        }
    }

    fn medians(file: &StoredFile) -> Vec<(String, f64)> {
        let median = |c: &StoredCheck| c.figures["ttft.median"];
        file.checks
            .iter()
            .map(|(n, c)| (n.clone(), median(c)))
            .collect()
    }

    fn pairs(checks: &[(&str, f64)]) -> Vec<(String, f64)> {
        checks.iter().map(|(n, m)| (n.to_string(), *m)).collect()
    }

    #[rstest]
    #[case::unset_locally(None, false, Ok(UpdateMode::New))]
    #[case::unset_in_ci(None, true, Ok(UpdateMode::No))]
    #[case::empty_locally(Some(""), false, Ok(UpdateMode::New))]
    #[case::empty_in_ci(Some(""), true, Ok(UpdateMode::No))]
    #[case::no(Some("no"), false, Ok(UpdateMode::No))]
    #[case::new_in_ci(Some("new"), true, Ok(UpdateMode::New))]
    #[case::always(Some("always"), true, Ok(UpdateMode::Always))]
    #[case::unknown(Some("yes"), false, Err(UpdateModeError::Unknown("yes".into())))]
    #[case::case_matters(Some("Always"), false, Err(UpdateModeError::Unknown("Always".into())))]
    fn parses_the_update_mode(
        #[case] value: Option<&str>,
        #[case] ci: bool,
        #[case] expected: Result<UpdateMode, UpdateModeError>,
    ) {
        assert_eq!(UpdateMode::parse(value, ci), expected);
    }

    #[test]
    fn an_unknown_update_mode_names_the_value_and_the_accepted_ones() {
        let error = UpdateMode::parse(Some("yes"), false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "PERFCASE_UPDATE is \"yes\": set it to no, new or always, or leave it unset"
        );
    }

    #[rstest]
    #[case(None, false)]
    #[case(Some(""), false)]
    #[case(Some("false"), false)]
    #[case(Some("FALSE"), false)]
    #[case(Some("0"), false)]
    #[case(Some("true"), true)]
    #[case(Some("1"), true)]
    #[case(Some("woodpecker"), true)]
    fn tells_ci(#[case] value: Option<&str>, #[case] expected: bool) {
        assert_eq!(is_ci(value), expected);
    }

    #[rstest]
    #[case::few_kept_in_their_order(&[3.0, 1.0, 2.0], 4, &[3.0, 1.0, 2.0])]
    #[case::as_many_as_kept(&[4.0, 3.0, 2.0, 1.0], 4, &[4.0, 3.0, 2.0, 1.0])]
    #[case::ends_kept(&[5.0, 1.0, 4.0, 2.0, 3.0], 2, &[1.0, 5.0])]
    #[case::odd_keeps_the_median(&[5.0, 1.0, 4.0, 2.0, 3.0], 3, &[1.0, 3.0, 5.0])]
    #[case::evenly_spaced(&[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0], 4, &[0.0, 3.0, 6.0, 9.0])]
    #[case::rounded_ranks(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 4, &[0.0, 2.0, 3.0, 5.0])]
    fn thins(#[case] values: &[f64], #[case] max: usize, #[case] expected: &[f64]) {
        assert_eq!(thin_to(values, max), expected);
    }

    #[test]
    fn thins_to_the_stored_bound_keeping_the_median_and_the_ends() {
        let values: Vec<f64> = (0..2_999).rev().map(f64::from).collect();
        let thinned = thin(&values);
        assert_eq!(thinned.len(), MAX_STORED_SAMPLES);
        assert_eq!(
            (thinned[0], thinned[MAX_STORED_SAMPLES - 1]),
            (0.0, 2_998.0)
        );
        let median = |v: &[f64]| crate::stats::Summary::of(v).unwrap().median();
        assert!((median(&thinned) - median(&values)).abs() <= 3.0);
        assert_eq!(
            thin(&values[..MAX_STORED_SAMPLES]),
            &values[..MAX_STORED_SAMPLES]
        );
    }

    #[rstest]
    #[case("linux", "x86_64", Some(2), "linux x86_64, 2 CPUs")]
    #[case("macos", "aarch64", Some(1), "macos aarch64, 1 CPU")]
    #[case("linux", "riscv64", None, "linux riscv64")]
    fn describes_the_machine(
        #[case] os: &str,
        #[case] arch: &str,
        #[case] cpus: Option<usize>,
        #[case] expected: &str,
    ) {
        assert_eq!(describe_machine(os, arch, cpus), expected);
    }

    #[test]
    fn names_this_machine() {
        let machine = machine();
        assert!(machine.starts_with(std::env::consts::OS), "{machine}");
        assert!(machine.contains("CPU"), "{machine}");
    }

    #[test]
    fn nothing_stored_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), "local-llm").unwrap().is_none());
        assert!(
            load(&dir.path().join("absent"), "local-llm")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn writes_pretty_sorted_json_with_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = entry(0.25);
        first.samples = BTreeMap::from([("ttft".to_string(), vec![0.25, 0.1])]);
        first.figures.insert("latency.median".into(), 1.5);
        save(dir.path(), "s", "generate", first, UpdateMode::Always, RUN).unwrap();
        let text = std::fs::read_to_string(dir.path().join("s.json")).unwrap();
        let expected = r#"{
  "format": 1,
  "checks": {
    "generate": {
      "recorded_at": "2026-11-27T21:50:00Z",
      "perfcase_version": "0.1.0",
      "against": {
        "server": "http://127.0.0.1:8080",
        "api": "ollama",
        "server_version": null,
        "model": null,
        "model_digest": null,
        "machine": "linux x86_64, 2 CPUs"
      },
      "iterations": 3,
      "figures": {
        "latency.median": 1.5,
        "ttft.median": 0.25
      },
      "samples": {
        "ttft": [
          0.25,
          0.1
        ]
      }
    }
  }
}
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = save(
            dir.path(),
            "gpu::a",
            "x",
            entry(0.1),
            UpdateMode::Always,
            RUN,
        )
        .unwrap();
        assert_eq!(path, Some(dir.path().join("gpu::a.json")));
        let loaded = load(dir.path(), "gpu::a").unwrap().unwrap();
        assert_eq!(loaded, file_of(&[("x", 0.1)]));
    }

    #[test]
    fn no_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let baselines = dir.path().join("baselines");
        assert_eq!(
            save(&baselines, "s", "x", entry(1.0), UpdateMode::No, RUN).unwrap(),
            None
        );
        assert!(!baselines.exists());
    }

    #[test]
    fn always_replaces_the_check_and_keeps_the_others_creating_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let baselines = dir.path().join("deep/baselines");
        for (check, median) in [("a", 1.0), ("b", 2.0), ("a", 3.0)] {
            save(
                &baselines,
                "s",
                check,
                entry(median),
                UpdateMode::Always,
                RUN,
            )
            .unwrap();
        }
        let stored = load(&baselines, "s").unwrap().unwrap();
        assert_eq!(medians(&stored), pairs(&[("a", 3.0), ("b", 2.0)]));
        assert!(!new_path(&baselines, "s").exists());
    }

    #[test]
    fn new_starts_from_the_stored_file_and_then_from_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let stored = stored_path(dir.path(), "s");
        write_atomic(&stored, &render(&file_of(&[("a", 1.0), ("b", 2.0)]))).unwrap();
        let before = std::fs::read(&stored).unwrap();
        let written = save(dir.path(), "s", "a", entry(3.0), UpdateMode::New, RUN).unwrap();
        assert_eq!(written, Some(dir.path().join("s.json.new")));
        save(dir.path(), "s", "c", entry(4.0), UpdateMode::New, RUN).unwrap();
        let new = read_at(&new_path(dir.path(), "s")).unwrap().unwrap();
        assert_eq!(medians(&new), pairs(&[("a", 3.0), ("b", 2.0), ("c", 4.0)]));
        assert_eq!(std::fs::read(&stored).unwrap(), before);
    }

    #[test]
    fn new_leaves_out_what_an_earlier_run_wrote_for_review() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(
            &stored_path(dir.path(), "s"),
            &render(&file_of(&[("a", 1.0)])),
        )
        .unwrap();
        save(
            dir.path(),
            "s",
            "gone",
            entry(9.0),
            UpdateMode::New,
            "run-0",
        )
        .unwrap();
        save(dir.path(), "s", "a", entry(2.0), UpdateMode::New, RUN).unwrap();
        let new = read_at(&new_path(dir.path(), "s")).unwrap().unwrap();
        assert_eq!(medians(&new), pairs(&[("a", 2.0)]));
    }

    #[test]
    fn new_without_a_stored_file_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), "s", "a", entry(1.0), UpdateMode::New, RUN).unwrap();
        let new = read_at(&new_path(dir.path(), "s")).unwrap().unwrap();
        assert_eq!(new, file_of(&[("a", 1.0)]));
        assert!(!stored_path(dir.path(), "s").exists());
    }

    #[rstest]
    #[case::sample(BTreeMap::new(), vec![1.0, f64::NAN], "ttft value 2 is NaN")]
    #[case::figure(BTreeMap::from([("ttft.cov".into(), f64::INFINITY)]), vec![1.0], "ttft.cov is inf")]
    fn refuses_a_value_json_cannot_hold(
        #[case] figures: BTreeMap<String, f64>,
        #[case] ttft: Vec<f64>,
        #[case] expected: &str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut broken = entry(1.0);
        broken.figures.extend(figures);
        broken.samples.insert("ttft".into(), ttft);
        let error = save(dir.path(), "s", "a", broken, UpdateMode::Always, RUN).unwrap_err();
        let message = error.to_string();
        let suffix = format!(
            "s.json: {expected}, which JSON cannot hold; this is a bug in perfcase, please report it"
        );
        assert!(
            message.starts_with("cannot store check \"a\" in "),
            "{message}"
        );
        assert!(message.ends_with(&suffix), "{message}");
        assert!(!stored_path(dir.path(), "s").exists());
    }

    const HINT: &str =
        "fix the file or delete it and record a new baseline with PERFCASE_UPDATE=always";

    #[rstest]
    #[case::syntax("{\n  \"format\": 1,\n  \"checks\": {,\n}", format!("<dir>/s.json:3:14: key must be a string; {HINT}"))]
    #[case::unknown_field("{\"format\": 1, \"checks\": {}, \"extra\": 0}", format!("<dir>/s.json:1:35: unknown field `extra`, expected `format` or `checks`; {HINT}"))]
    #[case::missing_field("{\"checks\": {}}", format!("<dir>/s.json:1:14: missing field `format`; {HINT}"))]
    #[case::other_format("{\"format\": 2, \"whatever\": true}", "stored baselines <dir>/s.json have format 2, but this perfcase reads format 1 only; use the perfcase that wrote them or record a new baseline with PERFCASE_UPDATE=always".to_string())]
    fn refuses_a_broken_file(#[case] text: &str, #[case] expected: String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(stored_path(dir.path(), "s"), text).unwrap();
        let message = load(dir.path(), "s").unwrap_err().to_string();
        assert_eq!(
            message.replace(&dir.path().display().to_string(), "<dir>"),
            expected
        );
    }

    #[test]
    fn refuses_a_file_too_large_to_be_a_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = stored_path(dir.path(), "s");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let error = load(dir.path(), "s").unwrap_err();
        assert!(matches!(error, StoreError::TooLarge { .. }), "{error}");
        assert!(error.to_string().contains("larger than 64 MiB"), "{error}");
    }

    /// Two threads save checks `a` and `b` of a fresh scenario at once, many times over.
    fn save_concurrently(mode: UpdateMode) {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..100 {
            let scenario = format!("s{round}");
            let barrier = Arc::new(Barrier::new(2));
            let threads: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|check| {
                    let (dir, scenario, barrier) =
                        (dir.path().to_path_buf(), scenario.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        save(&dir, &scenario, check, entry(1.0), mode, RUN).unwrap();
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            let written = match mode {
                UpdateMode::New => read_at(&new_path(dir.path(), &scenario)),
                _ => load(dir.path(), &scenario),
            };
            let checks = written.unwrap().unwrap().checks;
            assert_eq!(
                checks.keys().collect::<Vec<_>>(),
                ["a", "b"],
                "round {round}"
            );
        }
    }

    #[test]
    fn concurrent_saves_of_new_lose_no_check() {
        save_concurrently(UpdateMode::New);
    }

    #[test]
    fn concurrent_saves_of_always_lose_no_check() {
        save_concurrently(UpdateMode::Always);
    }
}
