//! `history.csv`: one row per baseline case per run, appended, so the trend of a check
//! over runs can be read back (the report's "last runs" table).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::atomic::lock_file;
use crate::text::{csv_records, excerpt};

/// The columns every row has, in order, before the figure columns.
pub const FIXED_COLUMNS: &[&str] = &[
    "time",
    "case",
    "status",
    "verdict",
    "iterations",
    "error_rate",
];

/// The figures history keeps, one column each (empty where a case has no such figure):
/// few and fixed, so the header never depends on which checks ran.
pub const HISTORY_FIGURES: &[&str] = &[
    "latency.median",
    "latency.p95",
    "ttft.median",
    "ttft.p95",
    "tokens_per_s.median",
    "tokens_per_s.cov",
    "inputs_per_s.median",
];

/// One row: a baseline case in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// When the case started, RFC 3339 in UTC (`2026-11-27T21:50:00Z`).
    pub time: String,
    /// The case name (`baseline::local-llm::generate`).
    pub case: String,
    /// `passed`, `failed`, `error`.
    pub status: String,
    /// The worst comparison verdict, or `missing` / `not compared`: see
    /// [`crate::report::record::BaselineFacts::verdict`].
    pub verdict: String,
    pub iterations: usize,
    /// Failed / counted iterations; `None` for a case that measured nothing (its server
    /// did not start, its model was missing).
    pub error_rate: Option<f64>,
    /// The value of each of [`HISTORY_FIGURES`], in that order.
    pub figures: Vec<Option<f64>>,
}

/// Rows are read from at most this many bytes at the end of the file: a history grows
/// over months, and its readers want the last runs.
const MAX_READ_BYTES: u64 = 8 << 20;

/// A first line longer than this is not a header perfcase wrote, and is not read whole.
const MAX_HEADER_BYTES: u64 = 64 << 10;

/// Why history could not be read or appended to.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot {action} history {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("history {} has the header {found:?}, but this perfcase writes {:?}; move the file aside and perfcase starts a new one", path.display(), header().join(","))]
    Header { path: PathBuf, found: String },
    #[error("{}:{line}: {message}; fix the row or move the file aside and perfcase starts a new one", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("the history row of {case} has {found} figures, but history keeps {}; this is a bug in perfcase, please report it", HISTORY_FIGURES.len())]
    Figures { case: String, found: usize },
}

/// The column names, in order: [`FIXED_COLUMNS`], then [`HISTORY_FIGURES`].
pub fn header() -> Vec<&'static str> {
    FIXED_COLUMNS
        .iter()
        .chain(HISTORY_FIGURES)
        .copied()
        .collect()
}

/// Appends one row, the header first when the file is new. Refuses a file whose header is
/// not perfcase's rather than add rows that mean something else under its columns.
///
/// The file itself is locked, and the row written with one `write_all`, so that runs
/// appending at once (nextest's processes, CI jobs sharing a folder) never interleave.
pub fn append(path: &Path, row: &HistoryRow) -> Result<(), HistoryError> {
    if row.figures.len() != HISTORY_FIGURES.len() {
        return Err(HistoryError::Figures {
            case: row.case.clone(),
            found: row.figures.len(),
        });
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(path, "create the folder of"))?;
    }
    let mut file = File::options()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path, "open"))?;
    lock_file(&file).map_err(io(path, "lock"))?;
    let mut bytes = lead(&mut file, path)?;
    bytes.extend(render(row));
    file.write_all(&bytes).map_err(io(path, "append to"))
}

/// The rows of the history at `path`, oldest first: none when there is no file yet, and
/// only those in its last [`MAX_READ_BYTES`] (from the first whole line there) when it is
/// longer.
pub fn read(path: &Path) -> Result<Vec<HistoryRow>, HistoryError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(path, "open")(error)),
    };
    // Locked so that a row being appended is not read half written.
    lock_file(&file).map_err(io(path, "lock"))?;
    let len = file.metadata().map_err(io(path, "read"))?.len();
    if len == 0 {
        return Ok(Vec::new());
    }
    let header_len = check_header(&mut file, path)?;
    let start = header_len.max(len.saturating_sub(MAX_READ_BYTES));
    let (rows_at, tail) = tail(&mut file, start).map_err(io(path, "read"))?;
    match parse_rows(&tail) {
        Ok(rows) => Ok(rows),
        Err((line, message)) => {
            let before = count_lines(&mut file, rows_at).map_err(io(path, "read"))?;
            Err(HistoryError::Malformed {
                path: path.to_path_buf(),
                line: before + line,
                message,
            })
        }
    }
}

/// Maps an I/O error on the history at `path` to what was being done.
fn io<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> HistoryError + 'a {
    move |source| HistoryError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// What goes before a row: the header in an empty file, a line feed after a last line
/// that a failed write left unfinished (so the row does not join it), else nothing.
fn lead(file: &mut File, path: &Path) -> Result<Vec<u8>, HistoryError> {
    let len = file.metadata().map_err(io(path, "read"))?.len();
    if len == 0 {
        return Ok(csv_line(header()));
    }
    check_header(file, path)?;
    let mut last = [0];
    file.seek(SeekFrom::Start(len - 1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(io(path, "read"))?;
    Ok(if last == *b"\n" {
        Vec::new()
    } else {
        b"\n".to_vec()
    })
}

/// Checks the first line of a non-empty file against [`header`] and returns its length in
/// bytes, line feed included.
fn check_header(file: &mut File, path: &Path) -> Result<u64, HistoryError> {
    let mut first = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| {
            BufReader::new(&*file)
                .take(MAX_HEADER_BYTES)
                .read_until(b'\n', &mut first)
        })
        .map_err(io(path, "read"))?;
    if first != csv_line(header()) {
        let found = String::from_utf8_lossy(&first);
        return Err(HistoryError::Header {
            path: path.to_path_buf(),
            found: excerpt(found.trim_end_matches('\n'), 300),
        });
    }
    Ok(first.len() as u64)
}

/// The bytes from the first line that starts at or after `start` (which is at least 1)
/// to the end, and the offset of that line.
fn tail(file: &mut File, start: u64) -> std::io::Result<(u64, Vec<u8>)> {
    // One byte before `start`, so that a line starting right at `start` is kept.
    file.seek(SeekFrom::Start(start - 1))?;
    let mut bytes = Vec::new();
    (&*file).take(MAX_READ_BYTES + 1).read_to_end(&mut bytes)?;
    let skip = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |at| at + 1);
    bytes.drain(..skip);
    Ok((start - 1 + skip as u64, bytes))
}

/// The number of lines before byte `end`: read only to place an error, since a long
/// history is not read whole.
fn count_lines(file: &mut File, end: u64) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&*file).take(end);
    let mut lines = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(lines);
        }
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        let consumed = chunk.len();
        reader.consume(consumed);
    }
}

/// The rows of CSV text without a header, or the line (counted from 1 in `text`) of the
/// first malformed one and what is wrong with it.
fn parse_rows(text: &[u8]) -> Result<Vec<HistoryRow>, (u64, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    reader
        .byte_records()
        .map(|record| {
            // Neither fails: the text is in memory, and `flexible` allows any row width.
            let record = record.expect("reading flexible CSV from memory cannot fail");
            let line = record.position().map_or(0, csv::Position::line);
            parse_row(&record).map_err(|message| (line, message))
        })
        .collect()
}

fn parse_row(record: &csv::ByteRecord) -> Result<HistoryRow, String> {
    let cells = record
        .iter()
        .map(std::str::from_utf8)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the row is not UTF-8 text".to_string())?;
    let width = FIXED_COLUMNS.len() + HISTORY_FIGURES.len();
    if cells.len() != width {
        return Err(format!("{} cells, but the header has {width}", cells.len()));
    }
    let (fixed, figures) = cells.split_at(FIXED_COLUMNS.len());
    let figures = figures
        .iter()
        .zip(HISTORY_FIGURES)
        .map(|(cell, name)| (!cell.is_empty()).then(|| number(name, cell)).transpose());
    Ok(HistoryRow {
        time: fixed[0].to_string(),
        case: fixed[1].to_string(),
        status: fixed[2].to_string(),
        verdict: fixed[3].to_string(),
        iterations: fixed[4].parse().map_err(|_| {
            format!(
                "iterations is {:?}, not a whole number",
                excerpt(fixed[4], 40)
            )
        })?,
        error_rate: (!fixed[5].is_empty())
            .then(|| number("error_rate", fixed[5]))
            .transpose()?,
        figures: figures.collect::<Result<_, _>>()?,
    })
}

fn number(column: &str, cell: &str) -> Result<f64, String> {
    cell.parse()
        .map_err(|_| format!("{column} is {:?}, not a number", excerpt(cell, 40)))
}

/// A row's line: figures in base units as Rust writes an `f64` (the shortest text that
/// reads back as the same number), an empty cell where there is none.
fn render(row: &HistoryRow) -> Vec<u8> {
    let fixed = [
        row.time.clone(),
        row.case.clone(),
        row.status.clone(),
        row.verdict.clone(),
        row.iterations.to_string(),
        row.error_rate.map(|v| v.to_string()).unwrap_or_default(),
    ];
    let figures = row
        .figures
        .iter()
        .map(|figure| figure.map(|v| v.to_string()).unwrap_or_default());
    csv_line(fixed.into_iter().chain(figures))
}

/// One CSV line, line feed included.
fn csv_line<T: AsRef<[u8]>>(cells: impl IntoIterator<Item = T>) -> Vec<u8> {
    csv_records([cells])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HEADER: &str = "time,case,status,verdict,iterations,error_rate,latency.median,latency.p95,ttft.median,ttft.p95,tokens_per_s.median,tokens_per_s.cov,inputs_per_s.median\n";

    fn row(case: &str, iterations: usize) -> HistoryRow {
        HistoryRow {
            time: "2026-11-27T21:50:00Z".into(),
            case: case.into(),
            status: "passed".into(),
            verdict: "unchanged".into(),
            iterations,
            error_rate: Some(0.1),
            figures: vec![
                Some(0.123456789012345),
                None,
                Some(1e-7),
                None,
                Some(42.0),
                None,
                None,
            ],
        }
    }

    #[test]
    fn the_header_is_the_fixed_columns_then_the_figures() {
        assert_eq!(csv_line(header()), HEADER.as_bytes());
        assert_eq!(header().len(), FIXED_COLUMNS.len() + HISTORY_FIGURES.len());
    }

    #[test]
    fn writes_the_header_once_and_rows_in_full_precision() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/history.csv");
        append(&path, &row("baseline::s::a", 10)).unwrap();
        append(&path, &row("baseline::s::b", 3)).unwrap();
        let line = |case: &str, n: usize| {
            format!(
                "2026-11-27T21:50:00Z,{case},passed,unchanged,{n},0.1,0.123456789012345,,0.0000001,,42,,\n"
            )
        };
        let expected = format!(
            "{HEADER}{}{}",
            line("baseline::s::a", 10),
            line("baseline::s::b", 3)
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let mut odd = row("baseline::a, \"quoted\"::b", 0);
        odd.error_rate = Some(1.0);
        odd.figures = vec![None; HISTORY_FIGURES.len()];
        let rows = vec![row("baseline::s::a", 10), odd, row("baseline::s::a", 11)];
        for row in &rows {
            append(&path, row).unwrap();
        }
        assert_eq!(read(&path).unwrap(), rows);
    }

    #[test]
    fn no_history_has_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&dir.path().join("history.csv")).unwrap(), []);
        std::fs::write(dir.path().join("empty.csv"), "").unwrap();
        assert_eq!(read(&dir.path().join("empty.csv")).unwrap(), []);
    }

    #[rstest]
    #[case::other_columns("time,case,status\n1,2,3\n", "time,case,status")]
    #[case::not_csv_at_all("just text", "just text")]
    #[case::carriage_returns(&HEADER.replace('\n', "\r\n"), &HEADER.replace('\n', "\r"))]
    fn refuses_another_header_and_changes_nothing(#[case] text: &str, #[case] found: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        std::fs::write(&path, text).unwrap();
        let expected = format!(
            "history {} has the header {found:?}, but this perfcase writes {:?}; move the file aside and perfcase starts a new one",
            path.display(),
            HEADER.trim_end()
        );
        let error = append(&path, &row("baseline::s::a", 1)).unwrap_err();
        assert_eq!(error.to_string(), expected);
        assert_eq!(read(&path).unwrap_err().to_string(), expected);
        assert_eq!(std::fs::read(&path).unwrap(), text.as_bytes());
    }

    #[test]
    fn refuses_a_row_without_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let mut short = row("baseline::s::a", 1);
        short.figures.pop();
        let error = append(&path, &short).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the history row of baseline::s::a has 6 figures, but history keeps 7; this is a bug in perfcase, please report it"
        );
        assert!(!path.exists());
    }

    #[test]
    fn ends_a_last_line_left_unfinished_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        append(&path, &row("baseline::s::a", 1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end()).unwrap();
        append(&path, &row("baseline::s::b", 2)).unwrap();
        let cases: Vec<_> = read(&path).unwrap().into_iter().map(|r| r.case).collect();
        assert_eq!(cases, ["baseline::s::a", "baseline::s::b"]);
    }

    #[rstest]
    #[case::short_row(b"t,c,passed,unchanged,1,0,,,,,,\n", "12 cells, but the header has 13")]
    #[case::iterations(
        b"t,c,passed,unchanged,many,0,,,,,,,\n",
        "iterations is \"many\", not a whole number"
    )]
    #[case::error_rate(
        b"t,c,passed,unchanged,1,x,,,,,,,\n",
        "error_rate is \"x\", not a number"
    )]
    #[case::figure(
        b"t,c,passed,unchanged,1,0,,,,,fast,,\n",
        "tokens_per_s.median is \"fast\", not a number"
    )]
    #[case::not_utf8(b"t,c,passed,\xff,1,0,,,,,,,\n", "the row is not UTF-8 text")]
    fn names_the_line_of_a_malformed_row(#[case] bad: &[u8], #[case] message: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        append(&path, &row("baseline::s::a", 1)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(bad);
        std::fs::write(&path, bytes).unwrap();
        let expected = format!(
            "{}:3: {message}; fix the row or move the file aside and perfcase starts a new one",
            path.display()
        );
        assert_eq!(read(&path).unwrap_err().to_string(), expected);
    }

    /// A history of `rows` rows numbered by their iterations, longer than is read whole.
    fn long_history(path: &Path, rows: usize) {
        let mut bytes = HEADER.as_bytes().to_vec();
        for i in 0..rows {
            bytes.extend(render(&row("baseline::s::a", i)));
        }
        assert!(bytes.len() as u64 > MAX_READ_BYTES + 1_000_000);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn reads_the_whole_rows_at_the_end_of_a_long_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let total = 110_000;
        long_history(&path, total);
        let rows = read(&path).unwrap();
        let numbers: Vec<usize> = rows.iter().map(|r| r.iterations).collect();
        let first = total - rows.len();
        assert_eq!(numbers, (first..total).collect::<Vec<_>>());
        // Every whole line in the last MAX_READ_BYTES, and no more.
        let bytes_from = |i: usize| -> usize {
            (i..total)
                .map(|i| render(&row("baseline::s::a", i)).len())
                .sum()
        };
        assert!(bytes_from(first) as u64 <= MAX_READ_BYTES);
        assert!(bytes_from(first - 1) as u64 > MAX_READ_BYTES);
    }

    #[test]
    fn counts_the_lines_a_long_history_skipped_when_naming_a_malformed_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        long_history(&path, 110_000);
        let mut file = File::options().append(true).open(&path).unwrap();
        file.write_all(b"bad\n").unwrap();
        let error = read(&path).unwrap_err();
        let expected = format!("{}:110002: 1 cells, but the header has 13", path.display());
        assert!(error.to_string().starts_with(&expected), "{error}");
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        // All start at once, so that several find the file empty.
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let (path, barrier) = (&path, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for i in 0..200 {
                        append(path, &row(&format!("baseline::t{thread}::c"), i)).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().filter(|l| *l == HEADER.trim_end()).count(), 1);
        assert_eq!(text.lines().count(), 1_601);
        let rows = read(&path).unwrap();
        assert_eq!(rows.len(), 1_600);
        for thread in 0..8 {
            let case = format!("baseline::t{thread}::c");
            let mine = rows.iter().filter(|r| r.case == case).map(|r| r.iterations);
            assert_eq!(mine.collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
        }
    }

    #[rstest]
    #[case::after_the_header(2, 2, 1, "ab\ncd\n")]
    #[case::inside_a_line(3, 5, 2, "cd\n")]
    #[case::at_a_line_start(5, 5, 2, "cd\n")]
    #[case::at_the_end(8, 8, 3, "")]
    fn reads_from_the_first_line_at_or_after_the_cut(
        #[case] start: u64,
        #[case] rows_at: u64,
        #[case] lines_before: u64,
        #[case] expected: &str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        std::fs::write(&path, "h\nab\ncd\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let (at, bytes) = tail(&mut file, start).unwrap();
        assert_eq!(
            (at, String::from_utf8(bytes).unwrap()),
            (rows_at, expected.into())
        );
        assert_eq!(count_lines(&mut file, at).unwrap(), lines_before);
    }
}
