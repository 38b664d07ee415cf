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
