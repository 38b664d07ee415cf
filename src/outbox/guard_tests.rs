//! The RFC 3834 rules, one message each.

use anyhow::Result;

use super::*;
use crate::message::Message;

fn own() -> Result<Mailbox> {
    Ok("Support <support@example.org>".parse()?)
}

fn decide(headers: &str) -> Result<Result<Mailbox, Decline>> {
    let raw = format!("{headers}Subject: help\r\nMessage-ID: <m1@example.net>\r\n\r\nbody\r\n");
    let msg = Message::parse(raw.as_bytes(), 0)?;
    Ok(check(msg.info(), &own()?))
}

#[test]
fn a_person_writing_in_is_answered_at_the_return_path() -> Result<()> {
    let to = decide("Return-Path: <alice@example.net>\r\nFrom: Alice <alice@example.net>\r\n")??;
    assert_eq!(to.email.to_string(), "alice@example.net");
    assert_eq!(to.name.as_deref(), Some("Alice"));
    let to = decide("From: Bob <bob@example.net>\r\nAuto-Submitted: no\r\n")??;
    assert_eq!(to.email.to_string(), "bob@example.net");
    Ok(())
}

#[test]
fn automatic_mail_is_never_answered() -> Result<()> {
    for value in [
        "auto-replied",
        "auto-generated",
        "Auto-Notified; owner-email=\"x@example.net\"",
    ] {
        let d = decide(&format!(
            "From: a@example.net\r\nAuto-Submitted: {value}\r\n"
        ))?;
        assert!(
            matches!(d, Err(Decline::AutoSubmitted(_))),
            "{value}: {d:?}"
        );
    }
    Ok(())
}

#[test]
fn list_and_bulk_mail_is_never_answered() -> Result<()> {
    let d = decide("From: a@example.net\r\nList-Id: <support.lists.example.org>\r\n")?;
    assert!(matches!(d, Err(Decline::List(_))), "{d:?}");
    for p in ["bulk", "junk", "list", "Bulk"] {
        let d = decide(&format!("From: a@example.net\r\nPrecedence: {p}\r\n"))?;
        assert!(matches!(d, Err(Decline::List(_))), "{p}: {d:?}");
    }
    let d = decide("From: a@example.net\r\nPrecedence: first-class\r\n")?;
    assert!(d.is_ok(), "{d:?}");
    Ok(())
}

#[test]
fn bounces_are_never_answered() -> Result<()> {
    let d = decide("Return-Path: <>\r\nFrom: a@example.net\r\n")?;
    assert!(matches!(d, Err(Decline::Bounce(_))), "{d:?}");
    let d = decide("From: MAILER-DAEMON@example.net\r\n")?;
    assert!(matches!(d, Err(Decline::Bounce(_))), "{d:?}");
    let d = decide(
        "From: a@example.net\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
    )?;
    assert!(matches!(d, Err(Decline::Bounce(_))), "{d:?}");
    Ok(())
}

#[test]
fn mail_from_the_team_itself_is_never_answered() -> Result<()> {
    let d = decide("From: Support <SUPPORT@example.org>\r\n")?;
    assert!(matches!(d, Err(Decline::OwnAddress(_))), "{d:?}");
    let d = decide("Return-Path: <support@example.org>\r\nFrom: someone@example.net\r\n")?;
    assert!(matches!(d, Err(Decline::OwnAddress(_))), "{d:?}");
    Ok(())
}

#[test]
fn a_message_without_a_sender_is_not_answered() -> Result<()> {
    let d = decide("To: support@example.org\r\n")?;
    assert_eq!(d.err(), Some(Decline::NoSender));
    Ok(())
}

#[test]
fn a_name_with_a_line_break_is_dropped_not_pasted() -> Result<()> {
    let to = decide("From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40example=2Enet?= <eve@example.net>\r\n")??;
    assert_eq!(to.email.to_string(), "eve@example.net");
    assert_eq!(to.name, None);
    Ok(())
}
