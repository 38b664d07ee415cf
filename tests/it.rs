//! The one integration-test binary. Every module lives in `tests/it/` and is declared inside the `it` block
//! below (a crate root looks for `mod x;` beside itself, the block makes it look in `tests/it/`); nothing
//! else lives here. Modules reach the shared helpers as `super::support`. Tests talk to the real Dovecot and
//! Postfix that `scripts/mailserver` starts, and the Mailman 3 core that `scripts/mailman` starts.

mod it {
    mod acl;
    mod classify;
    mod cli;
    mod handover;
    mod lists;
    mod mailserver;
    mod outbox;
    mod records;
    mod retention;
    mod sieve_diff;
    mod sla;
    mod support;
    mod team;
    mod threads;
    mod worker;
}
