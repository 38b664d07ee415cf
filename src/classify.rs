//! Sieve classification: compiles the team's script (and every script in the include directory) once,
//! with resource limits, and evaluates it per message into a `Verdict`. Evaluation is synchronous CPU work
//! (call it from `spawn_blocking` or a thread pool) and performs no side effects: it only says what Sieve
//! decided.
//!
//! # Where the engines disagree
//! triaged must decide exactly like Dovecot Pigeonhole. sieve-rs differs in places; each is resolved here,
//! without modifying sieve-rs, and guarded by a test named for it:
//! - `:regex` ignores the comparator: keys under the default `i;ascii-casemap` get `(?i)` (`source.rs`).
//! - An explicit `keep` in sieve-rs is a flag on the final event that a later `fileinto`/`redirect`/`discard`
//!   cancels; in Pigeonhole it is an action like any other. `keep` is rewritten to a `fileinto` of a marker
//!   folder, mapped back to the keep here.
//! - A Date with an obsolete one-letter zone (or `UT` before a bare LF) swallows the next header field in
//!   mail-parser: zone letters are replaced by a same-length numeric zone (`normalise.rs`).
//! - sieve-rs drops redirects past its limit silently; Pigeonhole fails the script (runtime error, keep).
//! - reject beside keep/fileinto/redirect/vacation is accepted by sieve-rs; Pigeonhole fails the run.
//! - Vacation: sieve-rs checks fewer senders and headers than Pigeonhole; the missing checks are applied
//!   after evaluation (`vacation.rs`).
//! - Tests sieve-rs decides differently are evaluated by triaged through a probe (`adapt.rs`,
//!   `evaluate.rs`): `date`/`currentdate :regex` (a glob in sieve-rs), `:matches` keys with `?` or variables
//!   (Pigeonhole's scan, `pmatch.rs`), and `i;ascii-numeric` (leading digits only, RFC 4790).
//! - sieve-rs scopes a variable to the block of its first `set`, and reads `\n` in a string as a line
//!   feed: both fixed in the source (`fixes.rs`).
//!
//! # Envelope
//! A stored message has no SMTP envelope; it is derived as the Pigeonhole harness does (see `Envelope`).

mod adapt;
mod envelope;
mod evaluate;
mod event_loop;
pub mod files;
mod fixes;
mod folders;
mod inputs;
mod lexer;
mod pmatch;
mod source;
mod vacation;
mod verdict;

pub use envelope::{DEFAULT_RECIPIENT, Envelope};
pub use folders::fileinto_targets;
pub use verdict::{
    Folder, Redirect, Reject, StoreAction, TraceStep, Vacation, Verdict, VerdictError,
    canonical_flag,
};

use crate::config::RulesConfig;
use crate::message::{Message, MessageInfo};
use chrono::{DateTime, Utc};
use sieve::{Compiler, Runtime, Sieve};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Extensions triaged accepts in `require`: those both sieve-rs and Pigeonhole 0.5 support (checked with
/// `sieve-test`). Anything else is refused at load, because sieve-rs would accept it and fail at run time.
pub const SUPPORTED: &[&str] = &[
    "body",
    "comparator-i;ascii-casemap",
    "comparator-i;ascii-numeric",
    "comparator-i;octet",
    "copy",
    "date",
    "duplicate",
    "editheader",
    "encoded-character",
    "envelope",
    "environment",
    "extracttext",
    "fileinto",
    "foreverypart",
    "ihave",
    "imap4flags",
    "include",
    "index",
    "mailbox",
    "mime",
    "regex",
    "reject",
    "relational",
    "subaddress",
    "vacation",
    "vacation-seconds",
    "variables",
];

/// Why the rules could not be loaded; every variant renders as `FILE:LINE:COLUMN: message` when it has a
/// position.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Compile {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: unsupported extension {extension:?} (triaged supports: {})", file.display(), SUPPORTED.join(" "))]
    Unsupported {
        file: PathBuf,
        line: usize,
        column: usize,
        extension: String,
    },
    #[error("{}:{line}:{column}: included script {name:?} not found in the {} directory", file.display(), if *global { "global" } else { "include" })]
    MissingInclude {
        file: PathBuf,
        line: usize,
        column: usize,
        name: String,
        /// `:global` include (looked for in `global_dir`), else `:personal` (in `include_dir`).
        global: bool,
    },
}

/// One compiled script: the form that runs, and the instrumented form used for `--explain`.
#[derive(Debug, Clone)]
struct Forms {
    run: Arc<Sieve>,
    explain: Arc<Sieve>,
}

/// A script compiled twice: `plain` for the usual message, `quoted` for one whose envelope has an
/// address with a quoted local part, where triaged evaluates `envelope :localpart`/`:user`/`:detail`
/// itself (`adapt.rs`). Doing that for every message would cost a probe per envelope test.
#[derive(Debug, Clone)]
struct Compiled {
    plain: Forms,
    quoted: Forms,
    /// The script requires `vacation`.
    vacation: bool,
}

impl Compiled {
    fn form(&self, explain: bool, quoted: bool) -> &Arc<Sieve> {
        let forms = if quoted { &self.quoted } else { &self.plain };
        if explain { &forms.explain } else { &forms.run }
    }
}

/// The compiled rules; cheap to share between threads (`&Rules` is all evaluation needs).
#[derive(Debug)]
pub struct Rules {
    runtime: Runtime,
    main: Compiled,
    /// Included scripts by (`:global`, name without `.sieve`): a personal and a global script may
    /// share a name (RFC 6609 §3.2).
    includes: BTreeMap<(bool, String), Compiled>,
    /// The tests triaged evaluates itself, indexed by their probe number (`adapt.rs`).
    specs: Vec<adapt::Spec>,
    /// Some script requires `vacation`: only then are Pigeonhole's reply checks made.
    vacation: bool,
}

/// What evaluation needs besides the message and its envelope.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Existing folders, for `mailboxexists` (`INBOX` matches case-insensitively).
    pub mailboxes: &'a BTreeSet<String>,
    /// The folder the message is in: what `Folder::Keep` refers to.
    pub source_folder: &'a str,
    /// Collect the trace of matched tests and actions (slower; for `--explain`).
    pub explain: bool,
    /// The time `currentdate` tests that triaged evaluates itself see (from the caller's clock).
    pub now: DateTime<Utc>,
}

/// A raw message classified: the verdict, and what the worker acts on besides it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The message's header values, when asked for and the message could be read.
    pub info: Option<MessageInfo>,
    /// The envelope derived from the header; `None` when the message could not be read.
    pub envelope: Option<Envelope>,
}

impl Rules {
    /// Compiles `cfg.script` and every script it includes, transitively: `:personal` ones from
    /// `cfg.include_dir`, `:global` ones from `cfg.global_dir`; checks `require`s and includes.
    pub fn load(cfg: &RulesConfig) -> Result<Rules, RulesError> {
        let src = std::fs::read(&cfg.script).map_err(|source| RulesError::Read {
            file: cfg.script.clone(),
            source,
        })?;
        Rules::load_source(cfg, &src)
    }

    /// [`Rules::load`] with `src` as the text of `cfg.script` (which is not read; it only names the
    /// script in messages). Included scripts are still read from their directories.
    pub fn load_source(cfg: &RulesConfig, src: &[u8]) -> Result<Rules, RulesError> {
        let compiler = Compiler::new()
            .with_max_includes(255)
            .with_max_string_size(64 * 1024)
            .with_max_nested_blocks(32)
            .with_max_nested_tests(32);
        let mut specs = Vec::new();
        let (main, refs) = compile_source(&compiler, &cfg.script, src, &mut specs)?;
        let includes = compile_includes(&compiler, cfg, refs, &mut specs)?;
        let vacation = main.vacation || includes.values().any(|c| c.vacation);
        let runtime = Runtime::new()
            .with_cpu_limit(cfg.cpu_limit.max(1))
            .with_max_redirects(usize::MAX)
            .with_max_out_messages(usize::MAX)
            .with_max_received_headers(usize::MAX)
            .with_max_nested_includes(10)
            .with_max_variable_size(64 * 1024)
            // Marked, so that the default subject is built as Pigeonhole builds it (`classify`).
            .with_vacation_subject_prefix(VACATION_AUTO)
            .with_vacation_default_subject(VACATION_DEFAULT)
            .without_capabilities(
                sieve::compiler::grammar::Capability::all()
                    .iter()
                    .filter(|c| !SUPPORTED.contains(&c.to_string().as_str()))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        Ok(Rules {
            runtime,
            main,
            includes,
            specs,
            vacation,
        })
    }

    /// Validates and parses `raw` (no larger than `max_size`, 0 for no limit) and classifies it: the one
    /// way a stored message is sorted, by the worker and by `triaged classify` alike. A message that
    /// cannot be read gets an error verdict (it is quarantined, never dropped). `with_info` keeps its
    /// header values, which the worker acts on and `triaged classify` does not need.
    pub fn classify_raw(
        &self,
        raw: &[u8],
        max_size: u64,
        ctx: &Context<'_>,
        with_info: bool,
    ) -> Outcome {
        match Message::parse(raw, max_size) {
            Ok(msg) => {
                let envelope = Envelope::derive(&msg);
                let info = with_info.then(|| msg.to_info());
                Outcome {
                    verdict: self.classify(msg, &envelope, ctx),
                    info,
                    envelope: Some(envelope),
                }
            }
            Err(e) => Outcome {
                verdict: Verdict::error(e.reason(), e.to_string()),
                info: None,
                envelope: None,
            },
        }
    }

    /// Evaluates the rules for one parsed message. Never panics; a script failure is an error verdict.
    /// The parsed message is moved into the engine, not copied: classification is the last use of it.
    pub fn classify(&self, msg: Message<'_>, envelope: &Envelope, ctx: &Context<'_>) -> Verdict {
        let quoted = envelope.has_quoted_address();
        let script = self.main.form(ctx.explain, quoted).clone();
        // Pigeonhole checks the message as received (before any editheader change) to decide whether
        // a vacation reply goes out; only a script that can answer needs the check.
        let may_reply = self.vacation && vacation::would_reply(msg.parsed(), envelope);
        let subject = may_reply
            .then(|| crate::message::normalise::subject_as_pigeonhole_reads_it(msg.parsed()))
            .flatten();
        let mut verdict =
            event_loop::Run::new(self, ctx, envelope, quoted).evaluate(msg.into_parsed(), script);
        if !may_reply {
            verdict.vacations.clear();
        }
        default_subject(&mut verdict, subject.as_deref());
        verdict
    }

    fn include(&self, script: &sieve::Script, explain: bool, quoted: bool) -> Option<Arc<Sieve>> {
        let global = matches!(script, sieve::Script::Global(_));
        let name = script.as_str();
        let name = name.strip_suffix(".sieve").unwrap_or(name);
        let c = self.includes.get(&(global, name.to_string()))?;
        Some(c.form(explain, quoted).clone())
    }
}

type IncludeRefs = Vec<source::IncludeRef>;

/// What sieve-rs puts before the original subject, and uses without one, in a vacation reply without
/// `:subject`; replaced by Pigeonhole's default after evaluation.
const VACATION_AUTO: &str = "\u{1}auto\u{1}";
const VACATION_DEFAULT: &str = "\u{1}default\u{1}";

/// Pigeonhole's default vacation subject: `Auto: ` and the original subject as it reads it (whitespace
/// kept, a broken encoded-word left as written, an empty Subject kept empty), or `Automated reply`
/// without a Subject field; sieve-rs collapses whitespace and treats an empty Subject as none.
fn default_subject(verdict: &mut Verdict, original: Option<&str>) {
    for v in &mut verdict.vacations {
        if v.subject.starts_with(VACATION_AUTO) || v.subject == VACATION_DEFAULT {
            v.subject =
                original.map_or_else(|| "Automated reply".to_owned(), |s| format!("Auto: {s}"));
        }
    }
}

fn compile_file(
    compiler: &Compiler,
    path: &Path,
    specs: &mut Vec<adapt::Spec>,
) -> Result<(Compiled, IncludeRefs), RulesError> {
    let src = std::fs::read(path).map_err(|source| RulesError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    compile_source(compiler, path, &src, specs)
}

/// Compiles `src`, the text of the script at `path` (named in errors).
fn compile_source(
    compiler: &Compiler,
    path: &Path,
    src: &[u8],
    specs: &mut Vec<adapt::Spec>,
) -> Result<(Compiled, IncludeRefs), RulesError> {
    let compile_err = |e: sieve::compiler::CompileError| {
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        RulesError::Compile {
            file: path.to_path_buf(),
            line: e.line_num(),
            column: e.line_pos(),
            message,
        }
    };
    let lex_err = |e: lexer::LexError| RulesError::Compile {
        file: path.to_path_buf(),
        line: e.line,
        column: e.col,
        message: e.message.to_string(),
    };
    // One construct trips sieve-rs's compiler itself, so it is looked for first.
    let (tokens, lex_error) = lexer::lex_prefix(src);
    if let Some(e) = lexer::match_variable_in_matching_test(src, &tokens) {
        return Err(lex_err(e));
    }
    // The original is compiled first so errors (and undeclared capabilities) point at what the user wrote.
    compiler.compile(src).map_err(compile_err)?;
    if let Some(e) = lex_error {
        return Err(lex_err(e));
    }
    lexer::check_commands(&tokens).map_err(lex_err)?;
    let required = source::required(src, &tokens);
    if let Some((extension, line, column)) = required
        .iter()
        .find(|(ext, ..)| !SUPPORTED.contains(&ext.to_ascii_lowercase().as_str()))
        .cloned()
    {
        return Err(RulesError::Unsupported {
            file: path.to_path_buf(),
            line,
            column,
            extension,
        });
    }
    // Each form's adapted tests are numbered after those already in `specs`; `run` and `explain`
    // adapt the same tests, so they share their numbers.
    let mut forms = |quoted: bool| -> Result<Forms, RulesError> {
        let (run_src, new_specs) = source::rewrite(src, &tokens, false, quoted, specs.len());
        let run = compiler.compile(&run_src).map_err(compile_err)?;
        let (explain_src, _) = source::rewrite(src, &tokens, true, quoted, specs.len());
        let explain = compiler.compile(&explain_src).map_err(compile_err)?;
        specs.extend(new_specs);
        Ok(Forms {
            run: Arc::new(run),
            explain: Arc::new(explain),
        })
    };
    let plain = forms(false)?;
    let quoted = forms(true)?;
    let compiled = Compiled {
        plain,
        quoted,
        vacation: required
            .iter()
            .any(|(ext, ..)| ext.eq_ignore_ascii_case("vacation")),
    };
    Ok((compiled, source::includes(src, &tokens)))
}

/// Compiles every script the rules include, transitively (`include` names are constants, RFC 6609).
/// `NAME` (or `NAME.sieve`) is `NAME.sieve` in `include_dir` for `:personal`, in `global_dir` for
/// `:global`, as Pigeonhole's `sieve_dir` and `sieve_global` resolve them.
fn compile_includes(
    compiler: &Compiler,
    cfg: &RulesConfig,
    refs: IncludeRefs,
    specs: &mut Vec<adapt::Spec>,
) -> Result<BTreeMap<(bool, String), Compiled>, RulesError> {
    let mut includes = BTreeMap::new();
    let mut queue: Vec<(PathBuf, IncludeRefs)> = vec![(cfg.script.clone(), refs)];
    while let Some((file, refs)) = queue.pop() {
        for r in refs {
            let name = r.name.strip_suffix(".sieve").unwrap_or(&r.name).to_string();
            let key = (r.global, name);
            if includes.contains_key(&key) {
                continue;
            }
            let dir = if r.global {
                &cfg.global_dir
            } else {
                &cfg.include_dir
            };
            let path = dir.join(format!("{}.sieve", key.1));
            if !path.is_file() {
                if r.optional {
                    continue;
                }
                return Err(RulesError::MissingInclude {
                    file,
                    line: r.line,
                    column: r.col,
                    name: r.name,
                    global: r.global,
                });
            }
            let (compiled, nested) = compile_file(compiler, &path, specs)?;
            includes.insert(key, compiled);
            queue.push((path, nested));
        }
    }
    Ok(includes)
}

#[cfg(test)]
#[path = "classify/classify_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "classify/pigeonhole_tests.rs"]
mod pigeonhole_tests;
