-- Handovers of assets (mailbox folders, mailing lists, manual items) from one person to another, or away
-- from a person who retires. One row per handover and one per asset it covers, with the asset's state.
-- Every step is also an append-only event (`events`, subject `handover:<id>`).
CREATE TABLE handovers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- `asset:NAME`, `role:leader` or `retire`.
    scope               TEXT    NOT NULL,
    from_person         INTEGER NOT NULL REFERENCES team_people (id),
    -- 0: nobody takes over (a retirement).
    to_person           INTEGER NOT NULL DEFAULT 0,
    reason              TEXT    NOT NULL DEFAULT '',
    opened_ms           INTEGER NOT NULL,
    opened_by           TEXT    NOT NULL DEFAULT '',
    confirmed_by        INTEGER NOT NULL DEFAULT 0,
    confirmed_os_user   TEXT    NOT NULL DEFAULT '',
    confirmed_ms        INTEGER NOT NULL DEFAULT 0,
    -- When every asset was verified (or ticked); 0 while the handover is open.
    closed_ms           INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE handover_assets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    handover_id INTEGER NOT NULL REFERENCES handovers (id),
    asset       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    critical    INTEGER NOT NULL DEFAULT 0,
    -- What the incoming person gets: IMAP rights, `accept` or `hold`, empty for manual items.
    rights      TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'applied', 'verified', 'failed')),
    error       TEXT    NOT NULL DEFAULT '',
    -- When the grant and the revocation were first read back; from then on the roster's wish follows it.
    applied_ms  INTEGER NOT NULL DEFAULT 0,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (handover_id, asset)
) STRICT;
CREATE INDEX handover_assets_asset ON handover_assets (asset, state);

-- What the latest sync or verify found granted beyond the roster's wish, per asset: replaced each time.
CREATE TABLE rights_drift (
    asset       TEXT    NOT NULL,
    place       TEXT    NOT NULL,
    identifier  TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    seen_ms     INTEGER NOT NULL,
    PRIMARY KEY (asset, place, identifier)
) STRICT;
