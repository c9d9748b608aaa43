-- Category rules (connect CreateRule ...), their per-contact evaluation state,
-- the alert outbox, webhook configuration and recorded rule actions.

CREATE TABLE rules (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX rules_name ON rules (instance_id, name);
CREATE INDEX rules_instance ON rules (instance_id, seq);

-- One small JSON record per (contact, rule), plus rule_id '*' for the
-- contact's counters; written in the transaction that advances analysed_seq.
CREATE TABLE rule_state (
    contact_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (contact_id, rule_id)
) WITHOUT ROWID;

-- Alerts waiting for (or done with) delivery to one webhook each.
CREATE TABLE alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX alerts_due ON alerts (next_attempt) WHERE status = 'PENDING';
CREATE INDEX alerts_instance ON alerts (instance_id, seq);

CREATE TABLE webhooks (
    instance_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

-- SEND_NOTIFICATION and CREATE_TASK actions, recorded when their rule fires.
CREATE TABLE rule_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX rule_actions_instance ON rule_actions (instance_id, seq);
