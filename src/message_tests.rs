use super::{Message, MessageError, validate};
use anyhow::{Context as _, Result};

#[test]
fn validation_errors_have_their_own_reason() {
    assert_eq!(
        validate(b"Subject: x\nno blank line", 0),
        Err(MessageError::NoHeaderSeparator)
    );
    assert_eq!(validate(b"\nbody only\n", 0), Err(MessageError::NoHeaders));
    assert_eq!(
        validate(b"just text\n\nbody\n", 0),
        Err(MessageError::NoHeaders)
    );
    assert_eq!(
        validate(b"Subject: a\0b\n\nbody\n", 0),
        Err(MessageError::NulInHeaders(10))
    );
    assert_eq!(
        validate(b"Subject: a\n\nbody\n", 5),
        Err(MessageError::TooLarge { size: 17, limit: 5 })
    );
    assert_eq!(validate(b"Subject: a\r\n\r\nbody\0\n", 0), Ok(()));
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
fn find_byte_agrees_with_a_plain_scan_at_every_offset() -> Result<()> {
    let hay: Vec<u8> = (0..40u8)
        .map(|i| if i % 13 == 12 { b'\n' } else { b'a' + i % 26 })
        .collect();
    for start in 0..hay.len() {
        for needle in [b'\n', b'a', 0x80, 0] {
            let plain = hay[start..].iter().position(|&b| b == needle);
            assert_eq!(
                super::find_byte(needle, &hay[start..]),
                plain,
                "{start} {needle}"
            );
        }
    }
    let high = [0x7fu8, 0xff, 0x80, 0x0a, 0x81, 0x0b, 0, 1, 0x0a];
    assert_eq!(super::find_byte(b'\n', &high), Some(3));
    assert_eq!(super::find_byte(0, &high), Some(6));
    Ok(())
}
