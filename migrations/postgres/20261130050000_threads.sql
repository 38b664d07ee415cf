-- Support tickets and their threads. Every new thread the worker sees (not junk, bounces or automatic
-- mail) opens a ticket numbered sYYYYMMDD.NNN from ticket_counters, the numbering acknowledgements carry;
-- later mail joins it by Message-ID (In-Reply-To, References), ticket number or arbitration case number.
CREATE TABLE tickets (
    ticket          TEXT    NOT NULL PRIMARY KEY,
    mailbox         TEXT    NOT NULL,
    -- The bucket the opening message was sorted into, and when the worker saw it arrive.
    bucket          TEXT    NOT NULL,
    opened_ms       BIGINT  NOT NULL,
    -- Whether the opening message came from the team (a filing sent to the watched mailbox): such a
    -- ticket is not timed against the response target.
    opened_by_team  BIGINT  NOT NULL DEFAULT 0,
    -- The first reply that counts toward the response target: when, and from which message; 0 while none.
    first_reply_ms  BIGINT  NOT NULL DEFAULT 0,
    first_reply_id  BIGINT  NOT NULL DEFAULT 0,
    -- When the ticket was logged as past its target with no reply; 0 while not.
    breach_ms       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX tickets_opened ON tickets (opened_ms);

-- The messages of each ticket's thread, without content: its Message-ID, the folder it was found in (the
-- bucket it was sorted into, a sent folder, or `outbox` for mail triaged sent), when, from whom.
CREATE TABLE thread_messages (
    id          BIGSERIAL PRIMARY KEY,
    ticket      TEXT    NOT NULL REFERENCES tickets (ticket),
    message_id  TEXT    NOT NULL DEFAULT '',
    folder      TEXT    NOT NULL DEFAULT '',
    origin      TEXT    NOT NULL CHECK (origin IN ('received', 'sent-folder', 'outbox')),
    -- When triaged saw it (arrival, found in a sent folder, queued); its Date header, 0 when none.
    seen_ms     BIGINT  NOT NULL,
    date_ms     BIGINT  NOT NULL DEFAULT 0,
    sender      TEXT    NOT NULL DEFAULT '',
    -- From the team's address or an active member's; the member (team_people.id), 0 when none.
    from_team   BIGINT  NOT NULL DEFAULT 0,
    member_id   BIGINT  NOT NULL DEFAULT 0,
    -- Automatic mail (an acknowledgement): never a reply that counts.
    automatic   BIGINT  NOT NULL DEFAULT 0,
    verdict_id  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX thread_messages_ticket ON thread_messages (ticket, seen_ms);
CREATE INDEX thread_messages_message_id ON thread_messages (message_id);

-- What later mail is matched on: the Message-IDs a thread's messages have and answer, and the case
-- numbers they carry.
CREATE TABLE thread_keys (
    id      BIGSERIAL PRIMARY KEY,
    kind    TEXT    NOT NULL CHECK (kind IN ('message-id', 'case')),
    key     TEXT    NOT NULL,
    ticket  TEXT    NOT NULL REFERENCES tickets (ticket),
    UNIQUE (kind, key, ticket)
);

-- How far the response-time loop has read the outbox and each sent folder.
CREATE TABLE thread_cursors (
    name        TEXT    NOT NULL PRIMARY KEY,
    position    BIGINT  NOT NULL DEFAULT 0,
    validity    BIGINT  NOT NULL DEFAULT 0
);
