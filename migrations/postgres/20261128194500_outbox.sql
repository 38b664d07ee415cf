-- The outbox: one row per mail (fully rendered bytes, fixed Message-ID and Date) and one per recipient, so
-- each recipient is delivered, retried or failed on its own. Ids are never reused.
CREATE TABLE outbox_mails (
    id              BIGSERIAL PRIMARY KEY,
    created_at_ms   BIGINT  NOT NULL,
    template        TEXT    NOT NULL DEFAULT '',
    message_id      TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    envelope_from   TEXT    NOT NULL DEFAULT '',
    raw             BYTEA   NOT NULL DEFAULT ''::bytea,
    source          TEXT    NOT NULL DEFAULT '',
    hold_error      TEXT    NOT NULL DEFAULT '',
    give_up_at_ms   BIGINT  NOT NULL
);

-- Not unique: a redirected message keeps its own Message-ID and may be redirected more than once.
CREATE INDEX outbox_mails_message_id ON outbox_mails (message_id);

CREATE TABLE outbox_recipients (
    id                  BIGSERIAL PRIMARY KEY,
    mail_id             BIGINT  NOT NULL REFERENCES outbox_mails (id),
    address             TEXT    NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'sent', 'failed', 'held', 'cancelled')),
    attempts            BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at_ms  BIGINT  NOT NULL DEFAULT 0,
    last_error          TEXT    NOT NULL DEFAULT '',
    updated_at_ms       BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (mail_id, address)
);
CREATE INDEX outbox_recipients_due ON outbox_recipients (state, next_attempt_at_ms);

-- Automatic replies sent (RFC 3834: at most one per sender per period) and the ticket each carried.
CREATE TABLE auto_replies (
    id          BIGSERIAL PRIMARY KEY,
    sender      TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL,
    mail_id     BIGINT  NOT NULL REFERENCES outbox_mails (id),
    ticket      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX auto_replies_sender ON auto_replies (sender, at_ms);

-- Support ticket numbers sYYYYMMDD.NNN: the last NNN handed out per day, never handed out again.
CREATE TABLE ticket_counters (
    day     TEXT    PRIMARY KEY,
    last    BIGINT  NOT NULL DEFAULT 0
);
