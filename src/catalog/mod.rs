//! Finding scenario files, applying a suite, and expanding every check into a named case.
//!
//! This is the one place where the file system meets the pure parser: it reads files,
//! resolves schema files next to them, and turns every failure into a `load::` case so
//! that one broken file never hides the others.

pub mod env;
pub mod naming;
pub mod suite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::http::HttpRequest;
use crate::config::Config;
use crate::inference::client::Limits;
use crate::inference::request::{GenerationRequest, build as build_generation};
use crate::scenario::diagnostic::line_col;
use crate::scenario::{InferenceCheck, ScenarioDoc, SchemaSource, SmokeCheck, parse_scenario};
use crate::target::{Managed, Redactor, Target};
use env::Env;
pub use naming::{case_name, scenario_name};
use suite::Suite;

/// The first part of every case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
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

    /// Measurement cases own the machine while they run: nothing else may overlap them.
    pub fn is_measurement(self) -> bool {
        matches!(self, Kind::Baseline | Kind::Sla)
    }
}

/// One test case: a name and what running it means.
pub struct Case {
    pub name: String,
    pub kind: Kind,
    pub scenario: String,
    pub check: String,
    /// The scenario file, as a path relative to the working directory.
    pub file: PathBuf,
    pub body: CaseBody,
}

impl Case {
    /// The target the case talks to; load errors have none.
    pub fn target(&self) -> Option<&Arc<Target>> {
        match &self.body {
            CaseBody::LoadError(_) => None,
            CaseBody::Smoke(target, _) | CaseBody::Inference(target, _) => Some(target),
        }
    }
}

pub enum CaseBody {
    /// The file (or suite) could not be loaded; running the case reports this error.
    LoadError(String),
    Smoke(Arc<Target>, Arc<SmokeSpec>),
    Inference(Arc<Target>, Arc<InferenceSpec>),
}

/// A smoke check compiled for running: request built, schema compiled, timeout settled.
pub struct SmokeSpec {
    pub check: SmokeCheck,
    pub request: HttpRequest,
    pub timeout: Duration,
    pub schema: Option<jsonschema::Validator>,
}

/// One variant (streaming or not) of an inference check, ready to send.
pub struct InferenceSpec {
    pub check: Arc<InferenceCheck>,
    pub schema: Option<Arc<jsonschema::Validator>>,
    pub request: GenerationRequest,
    pub limits: Limits,
}

pub struct Catalog {
    pub cases: Vec<Case>,
    pub targets: Vec<Arc<Target>>,
    pub redactor: Redactor,
}

impl Catalog {
    pub fn load(config: &Config) -> Catalog {
        let mut catalog = Catalog {
            cases: Vec::new(),
            targets: Vec::new(),
            redactor: Redactor::default(),
        };
        let (suite, globs) = match &config.suite {
            None => (None, Vec::new()),
            Some(name) => match load_suite(config, name) {
                Ok((suite, globs)) => (Some(suite), globs),
                Err((file, message)) => {
                    catalog
                        .cases
                        .push(load_error_case(format!("suite::{name}"), file, message));
                    return catalog;
                }
            },
        };
        let env = Env::new(suite.as_ref().map(|s| s.env.clone()).unwrap_or_default());
        let files = match find_scenarios(&config.scenario_root) {
            Ok(files) => files,
            Err(message) => {
                catalog.cases.push(load_error_case(
                    "scenarios".into(),
                    config.scenario_root.clone(),
                    message,
                ));
                return catalog;
            }
        };
        for relative in files {
            let selected = globs.is_empty() || globs.iter().any(|g| g.matches_path(&relative));
            if !selected {
                continue;
            }
            let scenario = scenario_name(&relative);
            let file = config.scenario_root.join(&relative);
            match load_file(config, &env, &scenario, &file) {
                Ok(loaded) => {
                    catalog.add_secrets(&loaded.secrets);
                    catalog.targets.push(loaded.target);
                    catalog.cases.extend(
                        loaded
                            .cases
                            .into_iter()
                            .filter(|c| suite.as_ref().is_none_or(|s| s.selects_kind(c.kind))),
                    );
                }
                Err(message) => {
                    catalog
                        .cases
                        .push(load_error_case(scenario, file.clone(), message));
                }
            }
        }
        catalog
    }

    fn add_secrets(&mut self, values: &[String]) {
        for value in values {
            self.redactor.add(value);
        }
    }
}

fn load_error_case(scenario: String, file: PathBuf, message: String) -> Case {
    Case {
        name: format!("load::{scenario}"),
        kind: Kind::Load,
        scenario,
        check: String::new(),
        file,
        body: CaseBody::LoadError(message),
    }
}

fn load_suite(
    config: &Config,
    name: &str,
) -> Result<(Suite, Vec<glob::Pattern>), (PathBuf, String)> {
    let file = config.suites_dir.join(format!("{name}.toml"));
    let source = std::fs::read_to_string(&file).map_err(|e| {
        (
            file.clone(),
            format!(
                "{}: cannot read suite \"{name}\": {e}; PERFCASE_SUITE names a file in {} (there: {})",
                file.display(),
                config.suites_dir.display(),
                suite_names(&config.suites_dir)
            ),
        )
    })?;
    Suite::parse(&source).map_err(|message| (file.clone(), format!("{}:{message}", file.display())))
}

/// The suites a folder offers, for the error that names a missing one.
fn suite_names(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|path| path.extension().is_some_and(|x| x == "toml"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    if names.is_empty() {
        "no suites".into()
    } else {
        names.join(", ")
    }
}

/// Every `*.toml` below the root, as sorted relative paths; hidden folders are skipped.
fn find_scenarios(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(root.join(&folder)).map_err(|e| {
            format!(
                "cannot read scenario folder {}: {e}; set PERFCASE_SCENARIOS to the folder holding your *.toml files",
                root.join(&folder).display()
            )
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let relative = folder.join(&name);
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                folders.push(relative);
            } else if relative.extension().is_some_and(|ext| ext == "toml") {
                found.push(relative);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What one scenario file yields.
struct LoadedFile {
    target: Arc<Target>,
    /// Header values and URL credentials, to be masked wherever text leaves the harness.
    secrets: Vec<String>,
    cases: Vec<Case>,
}

fn load_file(
    config: &Config,
    env: &Env,
    scenario: &str,
    file: &Path,
) -> Result<LoadedFile, String> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let vars = env.for_file();
    let doc = parse_scenario(&source, &vars).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| format!("{}:{e}", file.display()))
            .collect();
        lines.join("\n")
    })?;
    let target = build_target(config, env, scenario, &doc, &vars)
        .map_err(|e| format!("{}: target: {e}", file.display()))?;
    let mut secrets: Vec<String> = doc.target.headers.values().cloned().collect();
    // Credentials in the URL (`https://user:token@host`) are secrets like headers.
    secrets.extend(target.base_url.password().map(str::to_string));
    let target = Arc::new(target);
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, col) = line_col(&source, span.start);
        format!("{}:{line}:{col}: {message}", file.display())
    };
    let mut cases = Vec::new();
    for spanned in doc.smoke {
        let span = spanned.span();
        let check = spanned.into_inner();
        secrets.extend(check.headers.values().cloned());
        let schema = match &check.expect.json_schema {
            Some(schema) => Some(compile_schema(schema, file).map_err(|e| at(span.clone(), e))?),
            None => None,
        };
        let request = HttpRequest::from_smoke(&check).map_err(|e| at(span.clone(), e))?;
        let name = check.name.get_ref().clone();
        cases.push(Case {
            name: case_name(Kind::Smoke, scenario, &name, None),
            kind: Kind::Smoke,
            scenario: scenario.to_string(),
            check: name,
            file: file.to_path_buf(),
            body: CaseBody::Smoke(
                target.clone(),
                Arc::new(SmokeSpec {
                    timeout: check.timeout.map_or(target.timeout, |t| t.0),
                    check,
                    request,
                    schema,
                }),
            ),
        });
    }
    for spanned in doc.inference {
        let span = spanned.span();
        let check = Arc::new(spanned.into_inner());
        let schema = match &check.expect.json_schema {
            Some(schema) => Some(Arc::new(
                compile_schema(schema, file).map_err(|e| at(span.clone(), e))?,
            )),
            None => None,
        };
        let total = check.timeout.map_or(target.timeout, |t| t.0);
        let limits = Limits {
            total,
            first_token: check.first_token_timeout.map_or(total, |t| t.0),
        };
        let name = check.name.get_ref().clone();
        for (variant, stream) in check.variants() {
            let request =
                build_generation(target.api, &check, stream).map_err(|e| at(span.clone(), e))?;
            cases.push(Case {
                name: case_name(Kind::Inference, scenario, &name, variant),
                kind: Kind::Inference,
                scenario: scenario.to_string(),
                check: variant.map_or(name.clone(), |v| format!("{name}::{v}")),
                file: file.to_path_buf(),
                body: CaseBody::Inference(
                    target.clone(),
                    Arc::new(InferenceSpec {
                        check: check.clone(),
                        schema: schema.clone(),
                        request,
                        limits,
                    }),
                ),
            });
        }
    }
    Ok(LoadedFile {
        target,
        secrets,
        cases,
    })
}

fn build_target(
    config: &Config,
    env: &Env,
    scenario: &str,
    doc: &ScenarioDoc,
    vars: &impl Fn(&str) -> Option<String>,
) -> Result<Target, String> {
    let spec = &doc.target;
    let enabled = spec
        .enabled_if
        .as_deref()
        .is_none_or(|var| vars(var).is_some_and(|v| !v.is_empty()));
    let managed = spec.spawn.as_ref().map(|spawn| {
        let mut spawn_env: BTreeMap<String, String> = env.suite_only();
        spawn_env.extend(spawn.env.clone());
        let base = spec.base_url.get_ref().trim_end_matches('/');
        Managed::new(
            format!("managed target of scenario {scenario}"),
            spawn.command.clone(),
            format!("{base}{}", spawn.ready_path),
            spawn.ready_timeout.0,
            spawn_env,
            log_path(config, scenario),
        )
    });
    Target::new(scenario.to_string(), spec, enabled, managed).map_err(|e| e.to_string())
}

/// Under nextest every case is a process of its own with its own server: one log each.
fn log_path(config: &Config, scenario: &str) -> PathBuf {
    let stem = scenario.replace("::", "_");
    let name = match &config.nextest_run_id {
        Some(_) => format!("{stem}-{}.log", std::process::id()),
        None => format!("{stem}.log"),
    };
    config.out_dir.join("targets").join(name)
}

fn compile_schema(source: &SchemaSource, file: &Path) -> Result<jsonschema::Validator, String> {
    let (schema, origin) = match source {
        SchemaSource::Inline(schema) => (schema.clone(), "inline json_schema".to_string()),
        SchemaSource::File(path) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(path);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read json_schema {}: {e}; the path is relative to the scenario file",
                    path.display()
                )
            })?;
            let schema = serde_json::from_str(&text)
                .map_err(|e| format!("json_schema {} is not valid JSON: {e}", path.display()))?;
            (schema, format!("json_schema {}", path.display()))
        }
    };
    jsonschema::validator_for(&schema).map_err(|e| format!("{origin} is not a valid schema: {e}"))
}
