-- Call recordings (voice/recording.py): one row per audio socket of a contact whose recording is on.
-- The audio is kept in the database, in chunks appended as it settles (redacted where the policy
-- redacts), so every node serves what any node recorded.
CREATE TABLE recordings (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX recordings_contact ON recordings (contact_id, seq);

CREATE TABLE recording_chunks (
    recording_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (recording_id, seq)
);
