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
pub mod cli;
mod envelope;
mod evaluate;
mod fixes;
mod folders;
mod inputs;
pub(crate) mod normalise;
mod pmatch;
mod source;
mod vacation;
mod verdict;

pub use envelope::{DEFAULT_RECIPIENT, Envelope};
pub use folders::fileinto_targets;
pub use verdict::{
    Folder, Redirect, Reject, Store, TraceStep, Vacation, Verdict, VerdictError, canonical_flag,
};

use crate::config::RulesConfig;
use crate::message::Message;
use sieve::{Compiler, Event, Input, Mailbox, Recipient, Runtime, Sieve, runtime::RuntimeError};
use source::{KEEP_MARKER, Probe};
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

/// Pigeonhole's `sieve_max_redirects` default; more redirects fail the script there.
const MAX_REDIRECTS: usize = 4;

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
    #[error("{}:{line}:{column}: included script {name:?} not found in the include directory", file.display())]
    MissingInclude {
        file: PathBuf,
        line: usize,
        column: usize,
        name: String,
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
    includes: BTreeMap<String, Compiled>,
    /// The tests triaged evaluates itself, indexed by their probe number (`adapt.rs`).
    specs: Vec<adapt::Spec>,
    /// Some script requires `vacation`: only then are Pigeonhole's reply checks made.
    vacation: bool,
}

/// What evaluation needs besides the message.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Existing folders, for `mailboxexists` (`INBOX` matches case-insensitively).
    pub mailboxes: &'a BTreeSet<String>,
    /// The folder the message is in: what `Folder::Keep` refers to.
    pub source_folder: &'a str,
    pub envelope: Envelope,
    /// Collect the trace of matched tests and actions (slower; for `--explain`).
    pub explain: bool,
}

impl Rules {
    /// Compiles `cfg.script` and every `*.sieve` in `cfg.include_dir`, checking `require`s and includes.
    pub fn load(cfg: &RulesConfig) -> Result<Rules, RulesError> {
        let compiler = Compiler::new()
            .with_max_includes(255)
            .with_max_string_size(64 * 1024)
            .with_max_nested_blocks(32)
            .with_max_nested_tests(32);
        let mut specs = Vec::new();
        let (main, refs) = compile_file(&compiler, &cfg.script, &mut specs)?;
        let includes =
            compile_includes(&compiler, &cfg.include_dir, &cfg.script, refs, &mut specs)?;
        let vacation = main.vacation || includes.values().any(|c| c.vacation);
        let runtime = Runtime::new()
            .with_cpu_limit(cfg.cpu_limit.max(1))
            .with_max_redirects(usize::MAX)
            .with_max_out_messages(usize::MAX)
            .with_max_received_headers(usize::MAX)
            .with_max_nested_includes(10)
            .with_max_variable_size(64 * 1024)
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

    /// Evaluates the rules for one message. Never panics; a script failure is an error verdict. The
    /// parsed message is moved into the engine, not copied: classification is the last use of it.
    pub fn classify(&self, msg: Message<'_>, ctx: &Context<'_>) -> Verdict {
        let quoted = ctx.envelope.has_quoted_address();
        let script = self.main.form(ctx.explain, quoted);
        let mut run = Run {
            rules: self,
            ctx,
            quoted,
            verdict: Verdict::default(),
            last_probe: None,
            vacation_meta: None,
            created: None,
        };
        // Pigeonhole checks the message as received (before any editheader change) to decide whether
        // a vacation reply goes out; only a script that can answer needs the check.
        let may_reply = self.vacation && vacation::would_reply(msg.parsed(), &ctx.envelope);
        let mut verdict = match run.drive(msg.into_parsed(), script.clone()) {
            Ok(()) => run.verdict,
            Err((reason, detail)) => {
                let mut v = Verdict::error(reason, detail);
                v.trace = std::mem::take(&mut run.verdict.trace);
                v
            }
        };
        if !may_reply {
            verdict.vacations.clear();
        }
        verdict
    }

    fn include(&self, name: &str, explain: bool, quoted: bool) -> Option<Arc<Sieve>> {
        let c = self
            .includes
            .get(name.strip_suffix(".sieve").unwrap_or(name))?;
        Some(c.form(explain, quoted).clone())
    }
}

type IncludeRefs = Vec<(String, bool, usize, usize)>;

fn compile_file(
    compiler: &Compiler,
    path: &Path,
    specs: &mut Vec<adapt::Spec>,
) -> Result<(Compiled, IncludeRefs), RulesError> {
    let src = std::fs::read(path).map_err(|source| RulesError::Read {
        file: path.to_path_buf(),
        source,
    })?;
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
    // The original is compiled first so errors (and undeclared capabilities) point at what the user wrote.
    compiler.compile(&src).map_err(compile_err)?;
    let tokens = source::lex(&src).map_err(|e| RulesError::Compile {
        file: path.to_path_buf(),
        line: e.line,
        column: e.col,
        message: e.message.to_string(),
    })?;
    let required = source::required(&src, &tokens);
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
        let (run_src, new_specs) = source::rewrite(&src, &tokens, false, quoted, specs.len());
        let run = compiler.compile(&run_src).map_err(compile_err)?;
        let (explain_src, _) = source::rewrite(&src, &tokens, true, quoted, specs.len());
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
    Ok((compiled, source::includes(&src, &tokens)))
}

/// Compiles every script the rules include, transitively (`include` names are constants, RFC 6609).
/// `:personal` and `:global` both resolve in `dir`, as `NAME` or `NAME.sieve`.
fn compile_includes(
    compiler: &Compiler,
    dir: &Path,
    main: &Path,
    refs: IncludeRefs,
    specs: &mut Vec<adapt::Spec>,
) -> Result<BTreeMap<String, Compiled>, RulesError> {
    let mut includes = BTreeMap::new();
    let mut queue: Vec<(PathBuf, IncludeRefs)> = vec![(main.to_path_buf(), refs)];
    while let Some((file, refs)) = queue.pop() {
        for (name, optional, line, column) in refs {
            let key = name.strip_suffix(".sieve").unwrap_or(&name).to_string();
            if includes.contains_key(&key) {
                continue;
            }
            let path = dir.join(format!("{key}.sieve"));
            if !path.is_file() {
                if optional {
                    continue;
                }
                return Err(RulesError::MissingInclude {
                    file,
                    line,
                    column,
                    name,
                });
            }
            let (compiled, nested) = compile_file(compiler, &path, specs)?;
            includes.insert(key, compiled);
            queue.push((path, nested));
        }
    }
    Ok(includes)
}

/// State of one evaluation.
struct Run<'r> {
    rules: &'r Rules,
    ctx: &'r Context<'r>,
    /// The envelope has a quoted local part: the `quoted` forms of the scripts run (`Compiled`).
    quoted: bool,
    verdict: Verdict,
    /// The last probe seen: tells what the next `SendMessage` is and where actions come from.
    last_probe: Option<Probe>,
    /// (`DuplicateId` id, expiry) from the vacation test, for handle and period.
    vacation_meta: Option<(String, u64)>,
    /// The last message sieve-rs built (the vacation reply).
    created: Option<Vec<u8>>,
}

type RunError = (&'static str, String);

impl Run<'_> {
    fn drive(&mut self, msg: mail_parser::Message<'_>, script: Arc<Sieve>) -> Result<(), RunError> {
        let env = &self.ctx.envelope;
        // The engine's context is large: it is set up in place (`set_*`), not through the `with_*`
        // builders, each of which would move it.
        let mut instance = self.rules.runtime.filter_parsed(msg);
        match env.smtp_from() {
            // sieve-rs drops a sender with a quoted local part (`"john doe"@example.com`) as
            // unparsable; Pigeonhole takes it, so the quoted form is handed over as it is.
            std::borrow::Cow::Owned(quoted) => {
                instance = instance.with_envelope_list(vec![(sieve::Envelope::From, quoted.into())])
            }
            std::borrow::Cow::Borrowed(from) => instance.set_envelope(sieve::Envelope::From, from),
        }
        instance.set_envelope(sieve::Envelope::To, env.to.as_str());
        let mut input = Input::script("main", script);
        while let Some(result) = instance.run(input) {
            input = match result {
                Ok(Event::MailboxExists { mailboxes, .. }) if is_eval_probe(&mailboxes) => {
                    match self.eval_probe(&mailboxes, instance.message()) {
                        Some(values) => {
                            instance.set_global_variable(adapt::MATCH_VAR, values);
                            Input::True
                        }
                        None => Input::False,
                    }
                }
                Ok(event) => self.on_event(event)?,
                Err(e) => return Err(runtime_error(e)),
            };
        }
        // Pigeonhole refuses reject/ereject beside an action that delivers or answers the message
        // (keep, fileinto, redirect, vacation): a run-time conflict, so the message is kept.
        let v = &self.verdict;
        if v.reject.is_some()
            && (v.stores.iter().any(|s| !s.implicit)
                || !v.redirects.is_empty()
                || !v.vacations.is_empty())
        {
            return Err((
                "action-conflict",
                "reject conflicts with another action".to_string(),
            ));
        }
        if self.verdict.redirects.len() > MAX_REDIRECTS {
            return Err((
                "too-many-redirects",
                format!("more than {MAX_REDIRECTS} redirect actions"),
            ));
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<Input, RunError> {
        Ok(match event {
            Event::IncludeScript { name, optional } => {
                match self
                    .rules
                    .include(name.as_str(), self.ctx.explain, self.quoted)
                {
                    Some(script) => Input::script(name, script),
                    None if optional => Input::False,
                    None => {
                        return Err((
                            "include-missing",
                            format!("included script {:?} not found", name.as_str()),
                        ));
                    }
                }
            }
            Event::MailboxExists { mailboxes, .. } => self.mailbox_exists(&mailboxes).into(),
            Event::DuplicateId { id, expiry, .. } => {
                // No duplicate history: every message is evaluated on its own (RFC 7352 tracking is the
                // worker's). The vacation test asks through this event too.
                if id.starts_with("_v") {
                    self.vacation_meta = Some((id, expiry));
                }
                Input::False
            }
            Event::Keep { flags, .. } => {
                self.store(Folder::Keep, flags, false, true);
                Input::True
            }
            Event::FileInto {
                folder,
                flags,
                create,
                ..
            } => {
                let folder = if folder == KEEP_MARKER {
                    Folder::Keep
                } else if folder.contains(char::REPLACEMENT_CHARACTER) {
                    // A `?` match value took one octet of a UTF-8 character (`pmatch.rs`): Pigeonhole
                    // refuses the folder name as not UTF-8, a run-time error.
                    return Err((
                        "invalid-mailbox",
                        "mailbox name is not valid UTF-8".to_string(),
                    ));
                } else {
                    Folder::Named(folder)
                };
                self.store(folder, flags, create, false);
                Input::True
            }
            Event::Discard => {
                self.verdict.discard = true;
                Input::True
            }
            Event::Reject { extended, reason } => {
                self.verdict.reject = Some(Reject { reason, extended });
                Input::True
            }
            Event::CreatedMessage { message, .. } => {
                self.created = Some(message);
                Input::True
            }
            Event::SendMessage { recipient, .. } => {
                self.send(recipient);
                Input::True
            }
            Event::Function { .. } => Input::result(sieve::runtime::Variable::default()),
            Event::ListContains { .. } => Input::False,
            Event::SetEnvelope { .. } | Event::Notify { .. } => Input::True,
        })
    }

    /// Answers an evaluation probe: `Some(match values, NUL-joined)` when the adapted test matches.
    fn eval_probe(&self, mailboxes: &[Mailbox], msg: &mail_parser::Message<'_>) -> Option<String> {
        let mut names = mailboxes.iter().map(|m| match m {
            Mailbox::Name(n) | Mailbox::Id(n) => n.as_str(),
        });
        let id: usize = names
            .next()?
            .strip_prefix(adapt::EVAL_MARKER)?
            .parse()
            .ok()?;
        let spec = self.rules.specs.get(id)?;
        let args: Vec<String> = names.map(str::to_string).collect();
        let mut values = evaluate::evaluate(spec, &args, msg, &self.ctx.envelope)?;
        values.resize(spec.match_values.max(1), String::new());
        Some(values.join("\0"))
    }

    fn mailbox_exists(&mut self, mailboxes: &[Mailbox]) -> bool {
        if let Some(Mailbox::Name(name)) = mailboxes.first()
            && let Some(probe) = Probe::parse(name)
        {
            if self.ctx.explain {
                self.verdict.trace.push(TraceStep {
                    line: probe.line,
                    column: probe.col,
                    what: probe.what.clone(),
                });
            }
            self.last_probe = Some(probe);
            return false;
        }
        mailboxes.iter().all(|m| match m {
            Mailbox::Name(name) if name.eq_ignore_ascii_case("INBOX") => true,
            Mailbox::Name(name) => self.ctx.mailboxes.contains(name),
            Mailbox::Id(_) => false,
        })
    }

    fn origin(&self, actions: &[&str]) -> Option<String> {
        self.last_probe
            .as_ref()
            .filter(|p| actions.contains(&p.what.as_str()))
            .map(|p| format!("{}:{}", p.line, p.col))
    }

    fn store(&mut self, folder: Folder, flags: Vec<String>, create: bool, implicit: bool) {
        let origin = if implicit {
            None
        } else {
            self.origin(&["fileinto", "keep"])
        };
        self.verdict.stores.push(Store {
            folder,
            flags,
            create,
            implicit,
            origin,
        });
    }

    fn send(&mut self, recipient: Recipient) {
        let address = match recipient {
            Recipient::Address(a) | Recipient::List(a) => a,
            Recipient::Group(g) => g.join(","),
        };
        let probe = self.last_probe.take();
        let origin = probe.as_ref().map(|p| format!("{}:{}", p.line, p.col));
        match probe.as_ref().map(|p| p.what.as_str()) {
            Some("vacation") => {
                let created = self.created.take().unwrap_or_default();
                let meta = self.vacation_meta.take();
                let v = vacation::from_created(
                    &created,
                    address,
                    meta,
                    &self.ctx.envelope.smtp_from(),
                    origin,
                );
                self.verdict.vacations.push(v);
            }
            what => {
                let copy = what == Some("redirect-copy");
                self.verdict.redirects.push(Redirect {
                    address,
                    copy,
                    origin,
                });
            }
        }
    }
}

fn is_eval_probe(mailboxes: &[Mailbox]) -> bool {
    matches!(mailboxes.first(), Some(Mailbox::Name(n)) if n.starts_with(adapt::EVAL_MARKER))
}

fn runtime_error(e: RuntimeError) -> RunError {
    let reason = match &e {
        RuntimeError::CPULimitReached => "cpu-limit",
        RuntimeError::TooManyIncludes => "too-many-includes",
        RuntimeError::InvalidInstruction(_) => "invalid-instruction",
        RuntimeError::ScriptErrorMessage(_) => "script-error",
        RuntimeError::CapabilityNotAllowed(_) | RuntimeError::CapabilityNotSupported(_) => {
            "unsupported-extension"
        }
    };
    (reason, e.to_string())
}

#[cfg(test)]
#[path = "classify/classify_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "classify/pigeonhole_tests.rs"]
mod pigeonhole_tests;
