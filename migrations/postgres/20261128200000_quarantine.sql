-- Messages held in the quarantine folder because their verdict was an error, and when to look at them
-- again. A message is re-classified only when the rules (script, includes, limits) differ from those that
-- failed it, a bounded number of times and never sooner than its backoff allows.
-- state: held (in quarantine), releasing (a new verdict committed, the move not yet done), released,
-- given-up (attempts exhausted), gone (no longer in the quarantine folder).
CREATE TABLE quarantine (
    verdict_id    BIGINT NOT NULL PRIMARY KEY REFERENCES verdicts (id),
    mailbox       TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    rules         TEXT    NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    not_before_ms BIGINT NOT NULL DEFAULT 0,
    state         TEXT    NOT NULL DEFAULT 'held',
    updated_ms    BIGINT NOT NULL
);
CREATE INDEX quarantine_state ON quarantine (mailbox, state);
