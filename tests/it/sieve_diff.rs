//! Differential test of triaged's Sieve classification against Dovecot Pigeonhole. Pigeonhole (`sieve-test`,
//! through `scripts/pigeonhole-classify`) is first pinned to the golden files in `tests/expected`, then every
//! (script, message) pair of `rules/support.sieve` and `tests/sieve/*.sieve` over `tests/corpus` must get the
//! same copies from `triaged classify`, each with its own flags (`Privacy=\Flagged;Accounts=`, never merged),
//! and the same actions with their arguments (reject reason; vacation subject, `:days`, `:from` and
//! recipient, sent only when Pigeonhole sends it; redirect addresses with `:copy`). There is no skip list: a missing `sieve-test` or
//! an unparsable report fails the test. This module only compares; how to run each side is in `harness`.

mod harness;

use std::collections::BTreeSet;

use anyhow::{Result, anyhow, ensure};

use harness::{Case, Verdicts};

/// Pigeonhole's verdicts for every case, or the shared failure to get them.
fn pigeonhole_all() -> Result<&'static [(Case, Verdicts)]> {
    harness::pigeonhole_all()
        .as_ref()
        .map(Vec::as_slice)
        .map_err(|e| anyhow!("run Pigeonhole over the corpus: {e}"))
}

#[test]
fn pigeonhole_matches_the_golden_files() -> Result<()> {
    let mut report = String::new();
    let mut pairs = 0;
    for (case, live) in pigeonhole_all()? {
        let golden = harness::read_expected(case)?;
        let (n, diffs) = harness::compare(&case.name, &golden, live);
        pairs += n;
        report.push_str(&harness::render(&diffs, "golden", "pigeonhole"));
    }
    ensure!(
        report.is_empty(),
        "Pigeonhole no longer gives the golden verdicts (regenerate only after review):\n{report}"
    );
    println!("pigeonhole matches the golden files on {pairs} (script, message) pairs");
    Ok(())
}

#[test]
fn golden_files_cover_the_corpus_and_each_script_gives_two_verdicts() -> Result<()> {
    let corpus = harness::corpus_paths()?;
    ensure!(
        corpus.len() >= 170,
        "the corpus has only {} messages",
        corpus.len()
    );
    let cases = harness::cases()?;
    ensure!(cases.len() >= 33, "only {} scripts under test", cases.len());
    for case in &cases {
        let golden = harness::read_expected(case)?;
        let paths: Vec<&String> = golden.keys().collect();
        ensure!(
            paths.iter().copied().eq(corpus.iter()),
            "{} does not list exactly the corpus messages",
            case.expected
        );
        ensure!(
            paths.iter().all(|p| harness::is_project_relative(p)),
            "{} has paths not relative to the project root",
            case.expected
        );
        let distinct: BTreeSet<_> = golden.values().collect();
        ensure!(
            distinct.len() >= 2,
            "{} gives only {} distinct verdict over the corpus: it tests nothing",
            case.script,
            distinct.len()
        );
    }
    Ok(())
}

/// Regression guard for the corpus itself: every kind of mail the classifier must survive is present at
/// least five times, and both line-ending conventions occur.
#[test]
fn corpus_has_every_kind_of_mail() -> Result<()> {
    let corpus = harness::corpus_paths()?;
    for kind in [
        "qp",
        "b64",
        "isoew",
        "utf8ew",
        "html",
        "attach",
        "dsn",
        "autoreply",
        "list",
        "malformed",
        "nomsgid",
        "de",
        "fr",
        "spam",
        "headeronly",
    ] {
        let prefix = format!("{}/{kind}-", harness::CORPUS);
        let n = corpus.iter().filter(|p| p.starts_with(&prefix)).count();
        ensure!(n >= 5, "only {n} messages of kind {kind}");
    }
    let (mut crlf, mut lf) = (0, 0);
    for path in &corpus {
        let data = std::fs::read(harness::root().join(path))?;
        if data.windows(2).any(|w| w == b"\r\n") {
            crlf += 1;
        } else {
            lf += 1;
        }
    }
    ensure!(
        crlf >= 20 && lf >= 20,
        "line endings not mixed: {crlf} CRLF, {lf} LF"
    );
    Ok(())
}

#[test]
fn triaged_agrees_with_pigeonhole_on_every_pair() -> Result<()> {
    let mut report = String::new();
    let (mut pairs, mut disagreeing) = (0, 0);
    let all = pigeonhole_all()?;
    let messages = harness::corpus_paths()?.len();
    for (case, reference) in all {
        let ours = harness::triaged(case)?;
        let (n, diffs) = harness::compare(&case.name, reference, &ours);
        pairs += n;
        disagreeing += diffs.len();
        report.push_str(&harness::render(&diffs, "pigeonhole", "triaged"));
    }
    ensure!(
        pairs == all.len() * messages,
        "compared {pairs} pairs, expected every one of {} scripts x {messages} messages",
        all.len()
    );
    println!(
        "compared {pairs} (script, message) pairs ({} scripts x {messages} messages) with Pigeonhole, \
         copy by copy; {disagreeing} disagree",
        all.len()
    );
    ensure!(
        disagreeing == 0,
        "triaged disagrees with Pigeonhole on {disagreeing} of {pairs} pairs:\n{report}"
    );
    Ok(())
}
