-- The retention practice's own records: manual holds, purge runs, and the purge journal.
--
-- A manual hold keeps a message (by Message-ID) or a support ticket's mail from being purged until it is
-- released; released holds stay, with when and why.
CREATE TABLE retention_holds (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('message-id', 'ticket')),
    target          TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    actor           TEXT    NOT NULL DEFAULT '',
    created_ms      BIGINT  NOT NULL,
    released_ms     BIGINT  NOT NULL DEFAULT 0,
    release_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX retention_holds_active ON retention_holds (released_ms, kind, target);

-- One row per `retention run --apply` (from the command line or the schedule); a run killed before it
-- finished keeps finished_ms = 0.
CREATE TABLE retention_runs (
    id           BIGSERIAL PRIMARY KEY,
    actor        TEXT    NOT NULL DEFAULT '',
    started_ms   BIGINT  NOT NULL,
    finished_ms  BIGINT  NOT NULL DEFAULT 0,
    forced       BIGINT  NOT NULL DEFAULT 0,
    due          BIGINT  NOT NULL DEFAULT 0,
    held         BIGINT  NOT NULL DEFAULT 0,
    purged       BIGINT  NOT NULL DEFAULT 0,
    outcome      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX retention_runs_started ON retention_runs (started_ms);

-- The purge journal: a message is written here (planned) before it is expunged, and marked purged once
-- the server no longer has it (or kept when it is still there), so a run killed in between is finished
-- by the next one. Holds no content: the folder, the message's place in it, its Message-ID and date.
CREATE TABLE retention_purges (
    id           BIGSERIAL PRIMARY KEY,
    run_id       BIGINT  NOT NULL REFERENCES retention_runs (id),
    mailbox      TEXT    NOT NULL,
    folder       TEXT    NOT NULL,
    uidvalidity  BIGINT  NOT NULL,
    uid          BIGINT  NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    message_id   TEXT    NOT NULL DEFAULT '',
    digest       TEXT    NOT NULL DEFAULT '',
    internal_ms  BIGINT  NOT NULL,
    was_deleted  BIGINT  NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'purged', 'kept')),
    planned_ms   BIGINT  NOT NULL,
    done_ms      BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX retention_purges_state ON retention_purges (state, mailbox, folder);
CREATE INDEX retention_purges_done ON retention_purges (done_ms);
-- A message is recorded purged once, whatever runs planned it.
CREATE UNIQUE INDEX retention_purges_once ON retention_purges (mailbox, folder, uidvalidity, uid, name)
    WHERE state = 'purged';
