//! `[target] requires`: the programs a target needs, looked up at load. A machine without
//! one reports the target's cases as ignored with the way to install it, rather than
//! failing every case on a server that cannot start.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// Looked in after PATH: servers such as nginx install into the sbin folders, which are not
/// on a normal user's PATH.
const SBIN: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Why the target cannot run: its first missing program and how to install it, or `None`
/// when every one is there. `path` is the value of PATH.
pub fn missing(
    scenario: &str,
    requires: &BTreeMap<String, Spanned<String>>,
    path: Option<&OsStr>,
) -> Option<String> {
    let sbin = SBIN.map(Path::new);
    requires
        .iter()
        .find(|(program, _)| find(program, path, &sbin).is_none())
        .map(|(program, hint)| reason(scenario, program, hint.get_ref()))
}

/// A program with a `/` is a path (relative to the working folder); a bare name is looked
/// for on PATH, then in `extra` ([`SBIN`]).
fn find(program: &str, path: Option<&OsStr>, extra: &[&Path]) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| is_executable(p));
    }
    path.into_iter()
        .flat_map(std::env::split_paths)
        .chain(extra.iter().map(|dir| dir.to_path_buf()))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn reason(scenario: &str, program: &str, hint: &str) -> String {
    let looked = if program.contains('/') {
        "no executable file there".to_string()
    } else {
        format!("not on PATH, nor in {}", SBIN.join(", "))
    };
    format!(
        "target of scenario {scenario} needs {program}, which is not installed ({looked}): {hint}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// A folder holding `tool` (executable) and `data` (not executable).
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, mode) in [("tool", 0o755), ("data", 0o644)] {
            let file = dir.path().join(name);
            std::fs::write(&file, "").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        dir
    }

    fn requires(program: &str) -> BTreeMap<String, Spanned<String>> {
        let text = format!("r = {{ \"{program}\" = \"apt-get install {program}\" }}");
        #[derive(serde::Deserialize)]
        struct Doc {
            r: BTreeMap<String, Spanned<String>>,
        }
        toml::from_str::<Doc>(&text).unwrap().r
    }

    #[rstest]
    #[case::on_path("tool", true, false, true)]
    #[case::in_an_extra_folder("tool", false, true, true)]
    #[case::nowhere("tool", false, false, false)]
    #[case::not_executable("data", true, true, false)]
    #[case::absent("none", true, true, false)]
    fn a_bare_name_is_looked_for_on_path_then_in_the_extra_folders(
        #[case] program: &str,
        #[case] on_path: bool,
        #[case] in_extra: bool,
        #[case] found: bool,
    ) {
        let dir = folder();
        let path = on_path.then(|| dir.path().as_os_str().to_owned());
        let extra: &[&Path] = if in_extra { &[dir.path()] } else { &[] };
        let expected = found.then(|| dir.path().join(program));
        assert_eq!(find(program, path.as_deref(), extra), expected);
    }

    #[test]
    fn a_missing_program_is_named_with_where_it_was_looked_for_and_its_hint() {
        let reason = missing("s", &requires("perfcase-no-such-program"), None).unwrap();
        assert_eq!(
            reason,
            "target of scenario s needs perfcase-no-such-program, which is not installed (not on PATH, nor in /usr/local/sbin, /usr/sbin, /sbin): apt-get install perfcase-no-such-program"
        );
    }

    #[rstest]
    #[case::executable("tool", None)]
    #[case::not_executable("data", Some("no executable file there"))]
    #[case::absent("none", Some("no executable file there"))]
    fn a_path_is_taken_as_it_is(#[case] name: &str, #[case] expected: Option<&str>) {
        let dir = folder();
        let program = dir.path().join(name).display().to_string();
        let reason = missing("s", &requires(&program), None);
        match (reason, expected) {
            (None, None) => {}
            (Some(reason), Some(expected)) => assert!(reason.contains(expected), "{reason}"),
            (reason, _) => panic!("{program}: {reason:?}"),
        }
    }
}
