-- Instances, contacts, participants, the transcript (items) and the segment log.
-- Entities keep their fields as JSON in `data`; columns exist only where a query needs them.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE instances (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    deleted INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    analysis_status TEXT NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    last_item_seq INTEGER NOT NULL DEFAULT 0,
    analysed_seq INTEGER NOT NULL DEFAULT 0,
    last_segment_seq INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX contacts_instance ON contacts (instance_id);
CREATE INDEX contacts_pending ON contacts (id) WHERE last_item_seq > analysed_seq;

CREATE TABLE participants (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX participants_contact ON participants (contact_id);

-- The transcript as it arrived: messages, events, attachments, utterances and
-- the end-of-contact marker, in arrival order. The analysis worker turns each
-- into segments and advances contacts.analysed_seq in the same transaction.
CREATE TABLE items (
    contact_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    client_key TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (contact_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX items_id ON items (id);
CREATE UNIQUE INDEX items_client_key ON items (contact_id, client_key) WHERE client_key IS NOT NULL;

-- The append-only segment log. `raw` is NULL under RedactedOnly, `redacted`
-- is NULL when the contact is not redacted.
CREATE TABLE segments (
    contact_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    raw TEXT,
    redacted TEXT,
    PRIMARY KEY (contact_id, seq)
) WITHOUT ROWID;
CREATE INDEX segments_kind ON segments (contact_id, kind, seq);

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (scope, token)
) WITHOUT ROWID;

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);
