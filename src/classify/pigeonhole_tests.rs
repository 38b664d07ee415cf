//! Regression tests for the places where sieve-rs or mail-parser decide differently from Pigeonhole,
//! each named for the difference it guards and checked against what Pigeonhole 0.5 does.

use super::tests::{MSG, tsv};
use anyhow::Result;

#[test]
fn variable_set_inside_a_block_is_visible_after_it() -> Result<()> {
    let script = "require [\"variables\", \"fileinto\"];\n\
        if header :matches \"Subject\" \"* *\" { set \"first\" \"${1}\"; }\n\
        fileinto \"F/${first}\";\n";
    assert_eq!(tsv(script, MSG)?, "m\tF/Hello\t-\t-");
    Ok(())
}

#[test]
fn undefined_string_escapes_are_the_plain_character() -> Result<()> {
    // "\n" in a Sieve string is "n" (RFC 5228 2.4.2), not a line feed; "\\" is one backslash.
    let script = "require [\"fileinto\", \"body\"];\n\
        if body :raw :contains \"pass\\word\" { fileinto \"Escaped\"; }\n\
        if header :contains \"Subject\" \"\\there\" { fileinto \"T\"; }\n\
        if header :matches \"Subject\" \"Hello\\\\*\" { fileinto \"Wrong\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tEscaped,T\t-\t-");
    Ok(())
}

#[test]
fn date_regex_is_a_real_regular_expression_with_match_values() -> Result<()> {
    // sieve-rs evaluates date :regex as a glob; Pigeonhole as a regular expression.
    let script = "require [\"date\", \"regex\", \"fileinto\", \"variables\"];\n\
        if date :zone \"+0000\" :regex \"date\" \"iso8601\" \"^20(2[0-9])-\" { fileinto \"Y/${1}\"; }\n\
        if date :zone \"+0000\" :regex \"date\" \"hour\" \"^1[0-9]$\" { fileinto \"Hour\"; }\n\
        if currentdate :regex \"year\" \"^[0-9]{4}$\" { fileinto \"Now\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tHour,Now,Y/24\t-\t-");
    Ok(())
}

#[test]
fn matches_question_marks_follow_pigeonhole_scan() -> Result<()> {
    // "??? *" has no space to match in "Hello There" at offset 3; Pigeonhole still matches.
    let script = "require [\"fileinto\", \"variables\"];\n\
        if header :matches \"Subject\" \"??? *\" { fileinto \"W/${1}${2}${3}-${5}\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tW/Hel-lo There\t-\t-");
    Ok(())
}

#[test]
fn whole_match_alone_is_handed_back_from_an_adapted_test() -> Result<()> {
    // A script that uses only ${0} still gets it from a test triaged evaluates.
    let script = "require [\"fileinto\", \"variables\"];\n\
        if header :matches \"Subject\" \"?ello*\" { fileinto \"Z/${0}\"; }\n";
    assert_eq!(tsv(script, MSG)?, "m\tZ/Hello There\t-\t-");
    Ok(())
}

#[test]
fn match_value_with_half_a_character_is_an_invalid_mailbox() -> Result<()> {
    let msg = MSG.replace("Subject: Hello There", "Subject: Пароль");
    let script = "require [\"fileinto\", \"variables\"];\n\
        if header :matches \"Subject\" \"?*\" { fileinto \"W/${1}\"; }\n";
    assert_eq!(tsv(script, &msg)?, "m\tINBOX\t-\terror:invalid-mailbox");
    Ok(())
}

#[test]
fn ascii_numeric_compares_leading_digits_and_no_digits_is_infinity() -> Result<()> {
    let msg = MSG.replace(
        "Subject: Hello There",
        "Subject: Hi\nX-Score: 0.9\nX-Prio: high",
    );
    let script = "require [\"fileinto\", \"relational\", \"variables\", \"comparator-i;ascii-numeric\"];\n\
        if header :is :comparator \"i;ascii-numeric\" \"X-Score\" \"0.2\" { fileinto \"Zero\"; }\n\
        if header :value \"gt\" :comparator \"i;ascii-numeric\" \"X-Prio\" \"99999\" { fileinto \"Inf\"; }\n\
        if string :is :comparator \"i;ascii-numeric\" \"abc\" \"x\" { fileinto \"BothInf\"; }\n";
    assert_eq!(tsv(script, &msg)?, "m\tBothInf,Inf,Zero\t-\t-");
    Ok(())
}

#[test]
fn envelope_from_falls_back_to_sender_then_from_for_empty_return_path() -> Result<()> {
    let script = "require [\"envelope\", \"fileinto\", \"variables\"];\n\
        if envelope :all :matches \"from\" \"*\" { fileinto \"E/${1}\"; }\n";
    let null = MSG.replace("Return-Path: <bob@example.com>", "Return-Path: <>");
    assert_eq!(tsv(script, &null)?, "m\tE/bob@example.com\t-\t-");
    let sender = null.replace("To: support", "Sender: list@example.net\nTo: support");
    assert_eq!(tsv(script, &sender)?, "m\tE/list@example.net\t-\t-");
    Ok(())
}

#[test]
fn envelope_local_part_of_a_quoted_sender_is_unquoted() -> Result<()> {
    // Pigeonhole: "john doe"@example.com has the local part `john doe`; :all keeps the quotes.
    let script = "require [\"envelope\", \"fileinto\", \"variables\", \"subaddress\"];\n\
        if envelope :localpart :matches \"from\" \"* *\" { fileinto \"L/${1}-${2}\"; }\n\
        if envelope :user :is \"from\" \"john doe\" { fileinto \"User\"; }\n\
        if envelope :detail :is \"from\" \"x\" { fileinto \"Detail\"; }\n\
        if envelope :all :is \"from\" \"\\\"john doe\\\"@example.com\" { fileinto \"All\"; }\n\
        if envelope :localpart :is \"to\" \"support\" { fileinto \"To\"; }\n";
    let quoted = MSG.replace(
        "<bob@example.com>\nFrom",
        "<\"john doe\"@example.com>\nFrom",
    );
    assert_eq!(tsv(script, &quoted)?, "m\tAll,L/john-doe,To,User\t-\t-");
    let plain = MSG.replace("<bob@example.com>\nFrom", "<bob+x@example.com>\nFrom");
    assert_eq!(tsv(script, &plain)?, "m\tDetail,To\t-\t-");
    Ok(())
}

#[test]
fn date_with_index_reads_the_first_field_like_pigeonhole() -> Result<()> {
    let msg = MSG.replace(
        "Subject: Hello There",
        "Subject: s\nReceived: by a; Mon, 8 Feb 2019 15:49:47 -0800\nReceived: by b; Sat, 1 May 2022 00:40:20 +0000",
    );
    let script = "require [\"index\", \"date\", \"fileinto\", \"relational\"];\n\
        if date :index 1 :last :zone \"+0000\" :value \"lt\" \"received\" \"year\" \"2021\" { fileinto \"Old\"; }\n\
        if date :index 2 :zone \"+0000\" :is \"received\" \"year\" \"2022\" { fileinto \"Second\"; }\n";
    assert_eq!(tsv(script, &msg)?, "m\tOld\t-\t-");
    Ok(())
}

#[test]
fn encoded_words_with_bad_base64_or_inside_a_word_are_decoded_like_pigeonhole() -> Result<()> {
    let script = "require \"fileinto\";\n\
        if header :contains \"Subject\" \"Password reset help\" { fileinto \"B64\"; }\n\
        if header :contains \"Subject\" \"Passwortproblem\" { fileinto \"InWord\"; }\n";
    let msg = MSG.replace(
        "Subject: Hello There",
        "Subject: =?UTF-8?B?UGFzc3dvcmQgcmVzZXQ@@@?= help",
    );
    assert_eq!(tsv(script, &msg)?, "m\tB64\t-\t-");
    let msg = MSG.replace(
        "Subject: Hello There",
        "Subject: Pass=?UTF-8?Q?wort?=problem",
    );
    assert_eq!(tsv(script, &msg)?, "m\tInWord\t-\t-");
    Ok(())
}

#[test]
fn quoted_local_parts_are_seen_unquoted_like_pigeonhole() -> Result<()> {
    let script = "require [\"fileinto\", \"variables\"];\n\
        if address :localpart :is \"From\" \"kofi..mensah\" { fileinto \"Dotted\"; }\n\
        if address :localpart :matches \"Cc\" \"*\" { fileinto \"Cc/${1}\"; }\n";
    let msg = MSG
        .replace(
            "From: Bob <bob@example.com>",
            "From: Kofi <\"kofi..mensah\"@example.com>",
        )
        .replace("To: support", "Cc: \"john doe\"@example.com\nTo: support");
    assert_eq!(tsv(script, &msg)?, "m\tCc/john doe,Dotted\t-\t-");
    Ok(())
}

#[test]
fn envelope_sender_with_quoted_local_part_is_kept_and_answered() -> Result<()> {
    // sieve-rs drops `"john doe"@example.com` as an unparsable envelope address; Pigeonhole takes it:
    // `:all` shows it quoted, `:domain` matches, and a vacation reply goes to it.
    let msg = "Return-Path: <\"john doe\"@example.com>\nFrom: \"john doe\"@example.com\n\
        To: support@example.org\nSubject: Hi\nMessage-ID: <q@b>\n\nbody\n";
    let script = "require [\"envelope\", \"fileinto\"];\n\
        if envelope :domain :is \"from\" \"example.com\" { fileinto \"Dom\"; }\n\
        if envelope :all :is \"from\" \"\\\"john doe\\\"@example.com\" { fileinto \"All\"; }\n";
    assert_eq!(tsv(script, msg)?, "m\tAll,Dom\t-\t-");
    let vacation = "require \"vacation\";\nvacation :handle \"h\" \"Thanks.\";\n";
    let v = super::tests::classify_with(vacation, msg, false)?;
    assert_eq!(v.tsv_line("m"), "m\tINBOX\t-\tvacation");
    assert_eq!(v.vacations[0].recipient, "\"john doe\"@example.com");
    assert_eq!(v.vacations[0].handle.as_deref(), Some("h"));
    Ok(())
}
