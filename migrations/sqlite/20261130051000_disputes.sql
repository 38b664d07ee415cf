-- The disputes bridge: one row per dispute (a message sorted into a `[disputes] buckets` bucket, or a filing
-- triaged sent), with when it reached each stage (0: not yet). Holds no content: Message-IDs, the ticket and
-- case numbers, and times. Every stage reached is also an append-only event (`events`, subject
-- `dispute:<id>`).
CREATE TABLE disputes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The dispute's first message (the sorted message, or the filing), without angle brackets.
    message_id       TEXT    NOT NULL UNIQUE,
    origin           TEXT    NOT NULL CHECK (origin IN ('bucket', 'filing')),
    -- The support ticket of its thread, `sYYYYMMDD.NNN`, once known.
    ticket           TEXT    NOT NULL DEFAULT '',
    -- The arbitration case number, `aYYYYMMDD.N`, once seen.
    case_number      TEXT    NOT NULL DEFAULT '',
    received_ms      INTEGER NOT NULL,
    forwarded_ms     INTEGER NOT NULL DEFAULT 0,
    -- `outbox` (triaged sent it to the list) or `person` (seen forwarded, or its list copy came back).
    forwarded_by     TEXT    NOT NULL DEFAULT '',
    on_list_ms       INTEGER NOT NULL DEFAULT 0,
    acknowledged_ms  INTEGER NOT NULL DEFAULT 0,
    -- `arbitration` (a reply from [disputes] arbitration_addresses) or `case-number`.
    acknowledged_by  TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX disputes_received ON disputes (received_ms);

-- Every Message-ID known to belong to a dispute's thread (its first message, the forward triaged sent, the
-- list's copy, replies), so later mail finds its dispute by In-Reply-To or References.
CREATE TABLE dispute_messages (
    message_id  TEXT    NOT NULL,
    dispute_id  INTEGER NOT NULL REFERENCES disputes (id),
    seen_ms     INTEGER NOT NULL,
    PRIMARY KEY (message_id, dispute_id)
) STRICT;
CREATE INDEX dispute_messages_dispute ON dispute_messages (dispute_id);

-- Escalations to the team leader: at most one per dispute and stage, ever.
CREATE TABLE dispute_escalations (
    dispute_id  INTEGER NOT NULL REFERENCES disputes (id),
    stage       TEXT    NOT NULL CHECK (stage IN ('received', 'forwarded', 'on-list')),
    at_ms       INTEGER NOT NULL,
    outbox_id   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dispute_id, stage)
) STRICT;
