-- Members' certificates beside the person: S/MIME certificates (DER) and OpenPGP keys (binary, public
-- parts only), recorded by `team record NAME smime-cert FILE` or learnt from a member's signed mail.
-- One row per (person, scheme, fingerprint); the newest row per (person, scheme) is what mail is
-- encrypted to first. not_after_ms is 0 for an OpenPGP key that does not expire.
CREATE TABLE team_certificates (
    id           BIGSERIAL PRIMARY KEY,
    person_id    BIGINT  NOT NULL REFERENCES team_people (id),
    scheme       TEXT    NOT NULL CHECK (scheme IN ('smime', 'openpgp')),
    address      TEXT    NOT NULL DEFAULT '',
    fingerprint  TEXT    NOT NULL,
    certificate  BYTEA   NOT NULL,
    not_after_ms BIGINT  NOT NULL DEFAULT 0,
    source       TEXT    NOT NULL DEFAULT '',
    recorded_ms  BIGINT  NOT NULL,
    actor        TEXT    NOT NULL DEFAULT '',
    UNIQUE (person_id, scheme, fingerprint)
);
CREATE INDEX team_certificates_person ON team_certificates (person_id, scheme, id);
