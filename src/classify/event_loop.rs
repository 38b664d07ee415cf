//! The Sieve event loop: drives one sieve-rs evaluation of one message, answers every event the engine
//! raises (includes, `mailboxexists`, the probes triaged plants, actions) and collapses what the script
//! did into a `Verdict`. It performs no side effect: an action is only written down.

use std::sync::Arc;

use sieve::{Event, Input, Mailbox, Recipient, Sieve, runtime::RuntimeError};

use super::adapt;
use super::evaluate;
use super::source::{KEEP_MARKER, Probe};
use super::vacation;
use super::{Context, Envelope, Folder, Redirect, Reject, Rules, StoreAction, TraceStep, Verdict};

/// Pigeonhole's `sieve_max_redirects` default; more redirects fail the script there.
const MAX_REDIRECTS: usize = 4;

/// State of one evaluation.
pub(super) struct Run<'r> {
    rules: &'r Rules,
    ctx: &'r Context<'r>,
    envelope: &'r Envelope,
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

impl<'r> Run<'r> {
    pub(super) fn new(
        rules: &'r Rules,
        ctx: &'r Context<'r>,
        envelope: &'r Envelope,
        quoted: bool,
    ) -> Run<'r> {
        Run {
            rules,
            ctx,
            envelope,
            quoted,
            verdict: Verdict::default(),
            last_probe: None,
            vacation_meta: None,
            created: None,
        }
    }

    /// Runs `script` over the message to the end: the verdict, or an error verdict carrying the trace
    /// gathered up to the failure.
    pub(super) fn evaluate(mut self, msg: mail_parser::Message<'_>, script: Arc<Sieve>) -> Verdict {
        match self.drive(msg, script) {
            Ok(()) => self.verdict,
            Err((reason, detail)) => {
                let mut v = Verdict::error(reason, detail);
                v.trace = std::mem::take(&mut self.verdict.trace);
                v
            }
        }
    }

    fn drive(&mut self, msg: mail_parser::Message<'_>, script: Arc<Sieve>) -> Result<(), RunError> {
        let env = self.envelope;
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
                match self.rules.include(&name, self.ctx.explain, self.quoted) {
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
        let mut values = evaluate::evaluate(spec, &args, msg, self.envelope, self.ctx.now)?;
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
        self.verdict.stores.push(StoreAction {
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
                    &self.envelope.smtp_from(),
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
