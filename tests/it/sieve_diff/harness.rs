//! Runs the two classifiers of the differential test — Pigeonhole through `scripts/pigeonhole-classify
//! --copies` and `triaged classify --format copies` — over the golden corpus and parses their lines: each
//! copy with its own flags, each action with its arguments. It judges nothing: the
//! tests in `sieve_diff.rs` compare. It must not hide a failure: a missing `sieve-test`, a failed run or a
//! malformed line is an error naming the script.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};

/// The corpus every script runs over, relative to the project root (TSV paths keep this prefix).
pub const CORPUS: &str = "tests/corpus";

/// One line split into its fields; the path is the key of the map that holds it. Nothing is merged
/// or dropped: each copy keeps its own flags, each action its arguments.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Verdict {
    /// Every copy as `FOLDER=FLAGS` (`INBOX` for keep), sorted, `;`-joined
    /// (`Accounts=;Privacy=\Flagged`), or `-`.
    pub copies: String,
    /// Sorted, `;`-joined actions with their arguments (`reject:REASON`, `redirect-copy:ADDR`,
    /// `vacation:seconds=…,subject=…,to=…`), or `-`.
    pub actions: String,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\t{}", self.copies, self.actions)
    }
}

/// Where `include :personal` and `include :global` find scripts, on both sides alike.
pub const INCLUDE_DIR: &str = "tests/sieve/include";
pub const GLOBAL_DIR: &str = "tests/sieve/global";

/// Verdicts of one script over the corpus, keyed by message path.
pub type Verdicts = BTreeMap<String, Verdict>;

/// A script under test and the golden file that pins Pigeonhole's answer for it.
#[derive(Clone, Debug)]
pub struct Case {
    /// Short name for reports: `support` or the file stem under `tests/sieve`.
    pub name: String,
    /// Script path relative to the project root.
    pub script: String,
    /// Golden TSV path relative to the project root.
    pub expected: String,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `rules/support.sieve` first, then every `tests/sieve/*.sieve` in name order.
pub fn cases() -> Result<Vec<Case>> {
    let mut cases = vec![Case {
        name: "support".into(),
        script: "rules/support.sieve".into(),
        expected: "tests/expected/support.tsv".into(),
    }];
    let dir = root().join("tests/sieve");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("list {}", dir.display()))?;
    names.retain(|n| n.ends_with(".sieve"));
    names.sort();
    for file in names {
        let stem = file.trim_end_matches(".sieve").to_string();
        cases.push(Case {
            script: format!("tests/sieve/{file}"),
            expected: format!("tests/expected/sieve/{stem}.tsv"),
            name: stem,
        });
    }
    Ok(cases)
}

/// Parses copies lines; every line must have three fields and a path seen once.
pub fn parse_tsv(text: &str, origin: &str) -> Result<Verdicts> {
    let mut out = Verdicts::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        ensure!(
            fields.len() == 3 && fields.iter().all(|f| !f.is_empty()),
            "{origin} line {}: expected path<TAB>copies<TAB>actions, got {line:?}",
            i + 1
        );
        let verdict = Verdict {
            copies: fields[1].into(),
            actions: fields[2].into(),
        };
        ensure!(
            out.insert(fields[0].to_string(), verdict).is_none(),
            "{origin} line {}: path {} appears twice",
            i + 1,
            fields[0]
        );
    }
    Ok(out)
}

pub fn read_expected(case: &Case) -> Result<Verdicts> {
    let path = root().join(&case.expected);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("read golden file {}", path.display()))?;
    parse_tsv(&text, &case.expected)
}

/// Fails with an install hint when a Dovecot tool is not on PATH: the test never skips.
fn require_tool(name: &str) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join(name).is_file()) {
        return Ok(());
    }
    bail!("{name} not found on PATH: install Dovecot Pigeonhole (Debian package dovecot-sieve)")
}

fn run_tsv(mut command: Command, what: &str) -> Result<Verdicts> {
    let output = command
        .current_dir(root())
        .output()
        .with_context(|| format!("start {what}"))?;
    let stdout =
        String::from_utf8(output.stdout).with_context(|| format!("{what} printed non-UTF-8"))?;
    if !output.status.success() {
        bail!(
            "{what} exited with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_tsv(&stdout, what)
}

/// Pigeonhole's verdicts for one script, straight from `sieve-test`.
pub fn pigeonhole(case: &Case) -> Result<Verdicts> {
    require_tool("sieve-test")?;
    require_tool("sievec")?;
    let mut cmd = Command::new(root().join("scripts/pigeonhole-classify"));
    cmd.args([
        "--copies",
        "--include-dir",
        INCLUDE_DIR,
        "--global-dir",
        GLOBAL_DIR,
    ])
    .arg(&case.script)
    .arg(CORPUS);
    run_tsv(cmd, &format!("scripts/pigeonhole-classify {}", case.script))
}

/// Pigeonhole's verdicts for every case, computed once per test binary and shared by the tests
/// (about a minute of `sieve-test` runs).
pub fn pigeonhole_all() -> &'static Result<Vec<(Case, Verdicts)>, String> {
    static ALL: OnceLock<Result<Vec<(Case, Verdicts)>, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let run = || -> Result<Vec<(Case, Verdicts)>> {
            cases()?
                .into_iter()
                .map(|case| pigeonhole(&case).map(|v| (case, v)))
                .collect()
        };
        run().map_err(|e| format!("{e:#}"))
    })
}

/// triaged's verdicts for one script, from the built binary.
pub fn triaged(case: &Case) -> Result<Verdicts> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triaged"));
    cmd.args([
        "classify",
        "--rules",
        &case.script,
        "--format",
        "copies",
        "--include-dir",
        INCLUDE_DIR,
        "--global-dir",
        GLOBAL_DIR,
        CORPUS,
    ]);
    run_tsv(cmd, &format!("triaged classify --rules {}", case.script))
}

/// The message files of the corpus, as TSV paths, so a classifier that drops one is caught.
pub fn corpus_paths() -> Result<Vec<String>> {
    let dir = root().join(CORPUS);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("list {}", dir.display()))? {
        let name = entry
            .with_context(|| format!("list {}", dir.display()))?
            .file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".eml") {
            out.push(format!("{CORPUS}/{name}"));
        }
    }
    out.sort();
    Ok(out)
}

/// One (script, message) pair on which two sides disagree; `None` means the side printed no line.
pub struct Disagreement<'a> {
    pub script: &'a str,
    pub message: &'a str,
    pub left: Option<&'a Verdict>,
    pub right: Option<&'a Verdict>,
}

/// Compares two verdict maps over the union of their paths; returns the pairs compared and the differences.
pub fn compare<'a>(
    script: &'a str,
    left: &'a Verdicts,
    right: &'a Verdicts,
) -> (usize, Vec<Disagreement<'a>>) {
    let mut paths: Vec<&'a String> = left.keys().chain(right.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut diffs = Vec::new();
    for path in &paths {
        let (l, r) = (left.get(*path), right.get(*path));
        if l != r {
            diffs.push(Disagreement {
                script,
                message: path.as_str(),
                left: l,
                right: r,
            });
        }
    }
    (paths.len(), diffs)
}

/// Renders disagreements for a failure message, labelling the two sides.
pub fn render(diffs: &[Disagreement<'_>], left: &str, right: &str) -> String {
    let show = |v: Option<&Verdict>| v.map_or_else(|| "(no line)".to_string(), ToString::to_string);
    let mut out = String::new();
    for d in diffs {
        out.push_str(&format!(
            "{} | {}\n    {left:<10} {}\n    {right:<10} {}\n",
            d.script,
            d.message,
            show(d.left),
            show(d.right)
        ));
    }
    out
}

/// Whether a path is relative to the project root (TSV paths must be).
pub fn is_project_relative(path: &str) -> bool {
    Path::new(path).is_relative() && path.starts_with(CORPUS)
}
