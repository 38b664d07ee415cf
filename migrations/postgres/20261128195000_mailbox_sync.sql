-- The mailbox worker's bookkeeping: where each watched folder stands, and one verdict per message.
-- A message is identified by (mailbox, uidvalidity, uid); Maildir sources have no UIDs, so their rows use
-- uidvalidity 0, a uid the store assigns, and the file's unique name in `name`.
CREATE TABLE mailbox_sync (
    mailbox      TEXT    NOT NULL PRIMARY KEY,
    folder       TEXT    NOT NULL,
    uidvalidity  BIGINT  NOT NULL,
    last_uid     BIGINT  NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    updated_ms   BIGINT  NOT NULL
);

CREATE TABLE verdicts (
    id            BIGSERIAL PRIMARY KEY,
    mailbox       TEXT    NOT NULL,
    uidvalidity   BIGINT  NOT NULL,
    uid           BIGINT  NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    message_id    TEXT    NOT NULL DEFAULT '',
    digest        TEXT    NOT NULL,
    bucket        TEXT    NOT NULL,
    plan          TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'recorded',
    error         TEXT    NOT NULL DEFAULT '',
    attempts      BIGINT  NOT NULL DEFAULT 0,
    next_retry_ms BIGINT  NOT NULL DEFAULT 0,
    created_ms    BIGINT  NOT NULL,
    applied_ms    BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (mailbox, uidvalidity, uid)
);
CREATE UNIQUE INDEX verdicts_name ON verdicts (mailbox, name) WHERE name <> '';
CREATE INDEX verdicts_digest ON verdicts (mailbox, digest);
CREATE INDEX verdicts_message_id ON verdicts (mailbox, message_id);
CREATE INDEX verdicts_state ON verdicts (mailbox, state);
CREATE INDEX verdicts_created ON verdicts (mailbox, created_ms);
