-- Workers and mailbox leases (several `triaged run` processes sharing one PostgreSQL store).
-- On SQLite there is one worker (a second `run` is refused by a lock on the database file), but the
-- tables exist so that `status` reads the same on both.
--
-- A worker is one `triaged run` process: it registers at start, beats every `[lease] ttl / 3`, and is
-- live while its heartbeat is younger than the ttl. Times are the database's clock, in milliseconds.
CREATE TABLE workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    -- The host's PID namespace (`/proc/self/ns/pid`): a worker of the same host and namespace whose
    -- pid is gone is known dead at once, without waiting for its heartbeat to age.
    pidns          TEXT    NOT NULL DEFAULT '',
    pid            INTEGER NOT NULL,
    started_ms     INTEGER NOT NULL,
    heartbeat_ms   INTEGER NOT NULL,
    -- The ttl it runs with: it is dead once heartbeat_ms + ttl_ms has passed.
    ttl_ms         INTEGER NOT NULL,
    -- Set when it stopped cleanly (SIGTERM); 0 while it runs.
    stopped_ms     INTEGER NOT NULL DEFAULT 0
);

-- One row per mailbox identity (the account and folder URL the verdicts use), whatever its name.
-- The holder holds it while expires_ms is ahead of the database's clock; every takeover raises token,
-- and every write for the mailbox checks the token in its own transaction (fencing).
CREATE TABLE leases (
    mailbox        TEXT    PRIMARY KEY,
    -- The config's name for it, a label for `status`.
    name           TEXT    NOT NULL DEFAULT '',
    holder         TEXT    NOT NULL DEFAULT '',
    expires_ms     INTEGER NOT NULL DEFAULT 0,
    token          INTEGER NOT NULL DEFAULT 0,
    acquired_ms    INTEGER NOT NULL DEFAULT 0,
    -- The holder's last error for the mailbox, '' when none.
    last_error     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX leases_holder ON leases (holder);
