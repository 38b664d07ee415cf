use super::{Message, MessageError, validate};
use anyhow::{Context as _, Result};

#[test]
fn validation_errors_have_their_own_reason() {
    assert_eq!(validate(b"", 0), Err(MessageError::Empty));
    // Header-only mail is valid (RFC 5322 §3.5): the header runs to the end.
    assert_eq!(validate(b"Subject: x\nno blank line", 0), Ok(24));
    assert_eq!(validate(b"\nbody only\n", 0), Ok(0));
    assert_eq!(validate(b"just text\n\nbody\n", 0), Ok(10));
    assert_eq!(
        validate(b"Subject: x\nno blank line\0", 0),
        Err(MessageError::NulInHeaders(24))
    );
    assert_eq!(
        validate(b"Subject: a\0b\n\nbody\n", 0),
        Err(MessageError::NulInHeaders(10))
    );
    assert_eq!(
        validate(b"Subject: a\n\nbody\n", 5),
        Err(MessageError::TooLarge { size: 17, limit: 5 })
    );
    assert_eq!(validate(b"Subject: a\r\n\r\nbody\0\n", 0), Ok(12));
    assert_eq!(validate(b"\r\nbody\n", 0), Ok(0));
    assert_eq!(validate(b"A: b\n c\n\n", 0), Ok(8));
    // Mixed line ends: the first blank line counts, whichever style it and the line before it have.
    assert_eq!(validate(b"A: b\r\nC: d\n\nbody\r\n\r\n", 0), Ok(11));
    assert_eq!(validate(b"A: b\n\r\nbody\n\n", 0), Ok(5));
    assert_eq!(validate(b"A: b\r\nC: d\n\r\nbody", 0), Ok(11));
    assert_eq!(validate(b"A: b\nC: d\r\n\r\nbody\n\n", 0), Ok(11));
}

#[test]
fn info_has_the_fields_the_worker_needs() -> Result<()> {
    let raw = b"Return-Path: <>\nFrom: \"Bob\" <bob@example.com>\nSubject: =?utf-8?q?caf=C3=A9?=\n\
Message-ID: <id1@x>\nIn-Reply-To: <id0@x>\nReferences: <r1@x> <id0@x>\nAuto-Submitted: auto-replied\n\
List-Id: <l.x>\nPrecedence: bulk\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n";
    let msg = Message::parse(raw, 0).context("parse")?;
    let info = msg.info();
    assert_eq!(info.message_id.as_deref(), Some("id1@x"));
    assert_eq!(info.in_reply_to, vec!["id0@x"]);
    assert_eq!(info.references, vec!["r1@x", "id0@x"]);
    assert_eq!(info.from.as_deref(), Some("bob@example.com"));
    assert_eq!(info.subject.as_deref(), Some("café"));
    assert_eq!(info.return_path.as_deref(), Some(""));
    assert_eq!(info.auto_submitted.as_deref(), Some("auto-replied"));
    assert_eq!(info.list_id.as_deref(), Some("<l.x>"));
    assert_eq!(info.precedence.as_deref(), Some("bulk"));
    assert_eq!(info.date, Some(1_704_103_200));
    assert_eq!(msg.digest().len(), 64);
    Ok(())
}

#[test]
fn header_only_mail_is_parsed_like_dovecot_parses_it() -> Result<()> {
    // No blank line, no final line end: the whole message is its header, the body is empty.
    let msg = Message::parse(b"From: a@b.example\nSubject: hello", 0).context("parse")?;
    assert_eq!(msg.info().subject.as_deref(), Some("hello"));
    // A line that is no header field is skipped; the header goes on to the blank line.
    let raw = b"From: a@b.example\nSubject: hello\nthis is text\nX-Later: yes\n\nreal body\n";
    let msg = Message::parse(raw, 0).context("parse")?;
    assert!(
        msg.top_headers()
            .iter()
            .any(|h| h.name.as_str() == "X-Later")
    );
    assert_eq!(msg.parsed().body_text(0).as_deref(), Some("real body\n"));
    // Not a single header field and no blank line: an empty header, read all the same.
    let msg = Message::parse(b"just text", 0).context("parse")?;
    assert!(msg.info().subject.is_none());
    Ok(())
}

/// Found by the `classify_message` fuzz target: a delivery report whose parts run into one another
/// reaches a debug assertion inside mail-parser 0.11.9 ("Invalid part ID, could not find
/// multipart."). A release build, which is what runs, compiles the assertion out and parses the
/// message; a build with debug assertions (this test's usual one) must fail on that assertion and on
/// nothing else, so that a change in either shows here.
#[test]
fn a_report_whose_parts_run_into_each_other_parses_as_shipped() {
    let raw: &[u8] = include_bytes!(
        "../../tests/fixtures/fuzz/classify_message/crash-a42ce837675291bf254f93763960a6881b1154c4"
    );
    let parsed = std::panic::catch_unwind(|| {
        Message::parse(raw, 0).map(|m| (m.info().message_id.clone(), m.info().subject.clone()))
    });
    match parsed {
        Ok(info) => {
            let (id, subject) = info.expect("the message is valid mail");
            assert_eq!(id.as_deref(), Some("4c38d8cdfa06fa03.112@mx.example.net"));
            assert!(subject.is_some_and(|s| s.starts_with("Undeliverable")));
        }
        // A release build must not panic at all.
        Err(panic) if !cfg!(debug_assertions) => std::panic::resume_unwind(panic),
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned());
            assert_eq!(
                text.as_deref(),
                Some("Invalid part ID, could not find multipart.")
            );
        }
    }
}
