//! JUnit XML, the format every CI system reads: one testsuite per kind and scenario.

use std::collections::BTreeMap;

use junit_report::{
    Duration, OffsetDateTime, ReportBuilder, TestCase, TestCaseBuilder, TestSuiteBuilder,
};

use super::figures::format_figures;
use super::record::{Record, Status};

pub fn render(records: &[Record]) -> Vec<u8> {
    let mut suites: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for record in records {
        suites.entry(suite_name(record)).or_default().push(record);
    }
    let mut report = ReportBuilder::new();
    for (name, records) in suites {
        let mut suite = TestSuiteBuilder::new(&name);
        if let Some(first) = records.iter().map(|r| r.started_at).reduce(f64::min)
            && let Ok(at) = OffsetDateTime::from_unix_timestamp(first as i64)
        {
            suite.set_timestamp(at);
        }
        suite.add_testcases(records.iter().map(|r| testcase(r, &name)));
        report.add_testsuite(suite.build());
    }
    let mut xml = Vec::new();
    report
        .build()
        .write_xml(&mut xml)
        .expect("writing XML to memory cannot fail");
    xml
}

/// `smoke::ollama` for `smoke::ollama::version`; load errors group under `load`.
fn suite_name(record: &Record) -> String {
    if record.check.is_empty() {
        record.kind.as_str().to_string()
    } else {
        format!("{}::{}", record.kind.as_str(), record.scenario)
    }
}

fn testcase(record: &Record, classname: &str) -> TestCase {
    let time = Duration::seconds_f64(record.duration_s);
    let short_name = record
        .name
        .strip_prefix(classname)
        .and_then(|rest| rest.strip_prefix("::"))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&record.name);
    let message = record.message.as_deref().unwrap_or("");
    let cause = record.cause.as_deref();
    // XML readers fold the line breaks of an attribute into spaces: the message is also
    // the element's text, where every violation keeps its line.
    let trace = split_cdata_end(message);
    let mut case = match record.status {
        Status::Passed => TestCase::success(short_name, time),
        Status::Failed => {
            TestCaseBuilder::failure(short_name, time, cause.unwrap_or("failure"), message)
                .set_trace(&trace)
                .build()
        }
        Status::Error => {
            TestCaseBuilder::error(short_name, time, cause.unwrap_or("error"), message)
                .set_trace(&trace)
                .build()
        }
        Status::Skipped => TestCase::skipped_with_cause(short_name, "ignored", message),
    };
    case.set_classname(classname);
    case.set_filepath(&record.file);
    let mut out = format_figures(&record.figures);
    for (name, value) in &record.labels {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{name} = {value}"));
    }
    if !record.details.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&record.details);
    }
    if !out.is_empty() {
        case.set_system_out(&split_cdata_end(&out));
    }
    case
}

/// `<system-out>` is a CDATA section, which the first `]]>` ends, whatever follows: an
/// answer containing it would end the section early and break the file. The standard
/// remedy ends the section between `]]` and `>` and opens a new one, so the text reads
/// back unchanged.
fn split_cdata_end(text: &str) -> String {
    text.replace("]]>", "]]]]><![CDATA[>")
}
