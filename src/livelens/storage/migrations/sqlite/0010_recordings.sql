-- Call recordings (voice/recording.py): one row per audio socket of a contact whose recording is on.
-- `data` holds the format, the channel roles, the start offset and the status; the audio itself is a
-- file in --recordings-dir named by the id (raw 16-bit PCM, written as it settles).
CREATE TABLE recordings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    contact_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX recordings_contact ON recordings (contact_id, seq);
