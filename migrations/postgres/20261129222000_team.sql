-- The team roster: people, their addresses, the roles they held and since when, the facts recorded about
-- them, the checklists their roles opened, and the aliveness pings sent to them. Every change is also an
-- append-only event (`events`, subject `person:<address>`).
CREATE TABLE team_people (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT    NOT NULL,
    alias           TEXT    NOT NULL DEFAULT '',
    tz              TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active', 'paused', 'retired')),
    state_since_ms  BIGINT  NOT NULL DEFAULT 0,
    created_ms      BIGINT  NOT NULL DEFAULT 0,
    last_seen_ms    BIGINT  NOT NULL DEFAULT 0
);

-- Lowercased; an address belongs to one person, ever (a second `team add` with it is refused).
CREATE TABLE team_addresses (
    address     TEXT    NOT NULL PRIMARY KEY,
    person_id   BIGINT  NOT NULL REFERENCES team_people (id),
    position    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX team_addresses_person ON team_addresses (person_id, position);

-- One row per stint in a role; until_ms 0 while it lasts. `leader` is held beside a pipeline role.
CREATE TABLE team_roles (
    id          BIGSERIAL PRIMARY KEY,
    person_id   BIGINT  NOT NULL REFERENCES team_people (id),
    role        TEXT    NOT NULL,
    since_ms    BIGINT  NOT NULL,
    until_ms    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX team_roles_person ON team_roles (person_id, until_ms);

-- Facts as recorded, newest last; the newest row per (person, fact) is what holds now.
CREATE TABLE team_facts (
    id          BIGSERIAL PRIMARY KEY,
    person_id   BIGINT  NOT NULL REFERENCES team_people (id),
    fact        TEXT    NOT NULL,
    value       TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT '',
    at_ms       BIGINT  NOT NULL,
    actor       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX team_facts_person ON team_facts (person_id, fact, id);

-- Checklist items as they were when their checklist opened (text, due time, what ticks them).
CREATE TABLE team_checklist_items (
    id          BIGSERIAL PRIMARY KEY,
    person_id   BIGINT  NOT NULL REFERENCES team_people (id),
    checklist   TEXT    NOT NULL,
    title       TEXT    NOT NULL DEFAULT '',
    item        TEXT    NOT NULL,
    text        TEXT    NOT NULL DEFAULT '',
    facts       TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL DEFAULT '',
    position    BIGINT  NOT NULL DEFAULT 0,
    opened_ms   BIGINT  NOT NULL,
    due_ms      BIGINT  NOT NULL DEFAULT 0,
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'closed')),
    done_ms     BIGINT  NOT NULL DEFAULT 0,
    done_by     TEXT    NOT NULL DEFAULT '',
    note        TEXT    NOT NULL DEFAULT '',
    UNIQUE (person_id, checklist, item)
);

-- Aliveness pings: the mail's Message-ID (without angle brackets) finds the member a reply answers.
CREATE TABLE team_pings (
    id          BIGSERIAL PRIMARY KEY,
    person_id   BIGINT  NOT NULL REFERENCES team_people (id),
    outbox_id   BIGINT  NOT NULL REFERENCES outbox_mails (id),
    message_id  TEXT    NOT NULL UNIQUE,
    address     TEXT    NOT NULL DEFAULT '',
    sent_ms     BIGINT  NOT NULL,
    answered_ms BIGINT  NOT NULL DEFAULT 0,
    answered_by TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX team_pings_person ON team_pings (person_id, sent_ms);
