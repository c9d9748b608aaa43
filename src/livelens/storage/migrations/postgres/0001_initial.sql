-- The whole schema of SQLite migrations 0001-0008, for PostgreSQL (see storage/postgres.py).
-- Entities keep their fields as JSON text in `data` (stored as sent, so pages return it unchanged);
-- columns exist only where a query needs them. Times are Unix seconds (double precision).

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE instances (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    data TEXT NOT NULL
);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    analysis_status TEXT NOT NULL,
    ended BOOLEAN NOT NULL DEFAULT FALSE,
    last_item_seq BIGINT NOT NULL DEFAULT 0,
    analysed_seq BIGINT NOT NULL DEFAULT 0,
    last_segment_seq BIGINT NOT NULL DEFAULT 0,
    -- the analysis lease (see "Claims" in storage/base.py)
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_fence BIGINT NOT NULL DEFAULT 0,
    retry_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    analysis_failures INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX contacts_instance ON contacts (instance_id);
CREATE INDEX contacts_pending ON contacts (id) WHERE last_item_seq > analysed_seq;
CREATE INDEX contacts_live ON contacts (id) WHERE NOT ended;

CREATE TABLE participants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX participants_contact ON participants (contact_id, seq);

CREATE TABLE items (
    contact_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_key TEXT,
    data TEXT NOT NULL,
    accepted_at DOUBLE PRECISION,
    PRIMARY KEY (contact_id, seq)
);
CREATE UNIQUE INDEX items_id ON items (id);
CREATE UNIQUE INDEX items_client_key ON items (contact_id, client_key) WHERE client_key IS NOT NULL;

CREATE TABLE segments (
    contact_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    raw TEXT,
    redacted TEXT,
    PRIMARY KEY (contact_id, seq)
);
CREATE INDEX segments_kind ON segments (contact_id, kind, seq);

-- SearchContacts: each Transcript turn's words (as the contact's redaction policy shows them),
-- lower-cased, accents removed, joined by single spaces and padded with one space at each end,
-- so a phrase is found with `words LIKE '% w1 w2 %'` (written by append_segments).
CREATE TABLE transcript_search (
    contact_id TEXT NOT NULL,
    role TEXT,
    words TEXT NOT NULL
);
CREATE INDEX transcript_search_contact ON transcript_search (contact_id);

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (scope, token)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE rules (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX rules_name ON rules (instance_id, name);
CREATE INDEX rules_instance ON rules (instance_id, seq);

CREATE TABLE rule_state (
    contact_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (contact_id, rule_id)
);

CREATE TABLE alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX alerts_due ON alerts (next_attempt) WHERE status = 'PENDING';
CREATE INDEX alerts_instance ON alerts (instance_id, seq);

CREATE TABLE webhooks (
    instance_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE rule_actions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX rule_actions_instance ON rule_actions (instance_id, seq);

CREATE TABLE extraction_definitions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX extraction_definitions_name ON extraction_definitions (instance_id, name);
CREATE INDEX extraction_definitions_instance ON extraction_definitions (instance_id, seq);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    stats TEXT NOT NULL
);

-- Uploaded attachment bodies (on SQLite they are files in --uploads-dir): every node reads what any node
-- received. Bodies are small (chat attachments are at most 20 MB).
CREATE TABLE attachment_bodies (
    id TEXT PRIMARY KEY,
    body BYTEA NOT NULL
);
