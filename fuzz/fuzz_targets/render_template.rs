//! Template rendering with hostile context values: every shipped template (`templates/*.txt`) rendered
//! from its typed context filled with arbitrary strings (line breaks, control characters, template
//! syntax, address look-alikes), threaded with arbitrary In-Reply-To/References, then composed as the
//! outbox stores it. Rendering or composing may refuse a value; what it produces must never carry a
//! header the template did not ask for (DESIGN invariant 5), and every header line must end in CRLF.

#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use triaged::config::Config;
use triaged::outbox::Outbox;
use triaged::templates::{
    AbcFiling, Ack, HandoverNotice, MailContext, Ping, RenderedMail, Role, Templates, Welcome,
};

#[derive(Debug, Arbitrary)]
enum Mail {
    Welcome {
        se: bool,
        recipient: String,
        name: String,
        team_leader: String,
        team_address: String,
    },
    AbcFiling {
        disputes_address: String,
        claimant: String,
        claimant_name: String,
        respondent: String,
        candidate_name: String,
        candidate_alias: String,
        candidate_address: String,
        current_role: String,
        proposed_role: String,
        clause: String,
        complaint: String,
        relief: String,
    },
    Ack {
        requester: String,
        requester_name: String,
        ticket: String,
        original_subject: String,
        received: String,
        team_address: String,
    },
    Handover {
        recipient: String,
        recipient_name: String,
        outgoing: String,
        incoming: String,
        role: String,
        assets: Vec<String>,
        effective: String,
    },
    Ping {
        recipient: String,
        name: String,
        role: String,
        team_leader: String,
        team_address: String,
        reply_within: String,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    mail: Mail,
    in_reply_to: Option<String>,
    references: Vec<String>,
}

struct Setup {
    templates: Templates,
    outbox: Outbox,
    at: DateTime<Utc>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triaged.toml");
    let config = Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let outbox = Outbox::new(&config).unwrap_or_else(|e| panic!("{e:#}"));
    let templates = Templates::load(None).unwrap_or_else(|e| panic!("{e:#}"));
    let at = DateTime::from_timestamp(1_796_083_200, 0).unwrap_or_default();
    Setup {
        templates,
        outbox,
        at,
    }
});

fn render(t: &Templates, mail: Mail) -> anyhow::Result<RenderedMail> {
    fn go(t: &Templates, ctx: &impl MailContext) -> anyhow::Result<RenderedMail> {
        t.render(ctx)
    }
    match mail {
        Mail::Welcome {
            se,
            recipient,
            name,
            team_leader,
            team_address,
        } => go(
            t,
            &Welcome {
                role: if se { Role::Se } else { Role::Triage },
                recipient,
                name,
                team_leader,
                team_address,
            },
        ),
        Mail::AbcFiling {
            disputes_address,
            claimant,
            claimant_name,
            respondent,
            candidate_name,
            candidate_alias,
            candidate_address,
            current_role,
            proposed_role,
            clause,
            complaint,
            relief,
        } => go(
            t,
            &AbcFiling {
                disputes_address,
                claimant,
                claimant_name,
                respondent,
                candidate_name,
                candidate_alias,
                candidate_address,
                current_role,
                proposed_role,
                clause,
                complaint,
                relief,
            },
        ),
        Mail::Ack {
            requester,
            requester_name,
            ticket,
            original_subject,
            received,
            team_address,
        } => go(
            t,
            &Ack {
                requester,
                requester_name,
                ticket,
                original_subject,
                received,
                team_address,
            },
        ),
        Mail::Handover {
            recipient,
            recipient_name,
            outgoing,
            incoming,
            role,
            assets,
            effective,
        } => go(
            t,
            &HandoverNotice {
                recipient,
                recipient_name,
                outgoing,
                incoming,
                role,
                assets,
                effective,
            },
        ),
        Mail::Ping {
            recipient,
            name,
            role,
            team_leader,
            team_address,
            reply_within,
        } => go(
            t,
            &Ping {
                recipient,
                name,
                role,
                team_leader,
                team_address,
                reply_within,
            },
        ),
    }
}

/// The header fields of `raw` (up to the first empty line), by lowercase name, with how often each
/// occurs; panics on a header line not ending in CRLF or a field line without a name.
fn header_fields(raw: &[u8]) -> BTreeMap<String, usize> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no empty line after the header"));
    let header = &raw[..end + 2];
    let mut fields = BTreeMap::new();
    for line in header.split_inclusive(|&b| b == b'\n') {
        assert!(
            line.ends_with(b"\r\n"),
            "header line without CRLF: {line:?}"
        );
        let body = &line[..line.len() - 2];
        assert!(!body.contains(&b'\r'), "bare CR in a header line: {line:?}");
        if body.starts_with(b" ") || body.starts_with(b"\t") {
            continue;
        }
        let colon = body
            .iter()
            .position(|&b| b == b':')
            .unwrap_or_else(|| panic!("header line without a field name: {line:?}"));
        let name = String::from_utf8_lossy(&body[..colon]).to_ascii_lowercase();
        *fields.entry(name).or_insert(0) += 1;
    }
    fields
}

const BUILT: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "auto-submitted",
];

fuzz_target!(|input: Input| {
    let s = &*SETUP;
    let Ok(mut mail) = render(&s.templates, input.mail) else {
        return;
    };
    mail.in_reply_to = input.in_reply_to;
    mail.references = input.references;
    let Ok(composed) = s.outbox.compose(&mail, "<fuzz.1@example.org>", s.at) else {
        return;
    };
    if composed.hold_error.is_some() {
        return;
    }
    let asked: Vec<String> = mail
        .headers
        .keys()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    for (name, count) in header_fields(&composed.raw) {
        assert!(
            BUILT.contains(&name.as_str()) || asked.contains(&name),
            "header {name:?} that the template did not ask for, in {:?}",
            String::from_utf8_lossy(&composed.raw)
        );
        assert_eq!(count, 1, "header {name:?} occurs {count} times");
    }
});
