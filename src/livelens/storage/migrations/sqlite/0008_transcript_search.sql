-- SearchContacts: full-text index of every transcript turn, as the contact's
-- redaction policy lets it be read. A trigger on the segment log indexes each
-- Transcript segment's redacted body when the contact redacts (its `redacted`
-- column is set) and the original otherwise, so a search never matches text
-- the policy hides; nothing else writes to it. (The trigger body ends on the line of its END:
-- the migration runner splits statements at a semicolon that ends a line.)

CREATE VIRTUAL TABLE transcript_search USING fts5(
    contact_id UNINDEXED,
    role UNINDEXED,
    content,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER transcript_search_index AFTER INSERT ON segments
WHEN NEW.kind = 'Transcript'
BEGIN
    INSERT INTO transcript_search (contact_id, role, content)
    VALUES (
        NEW.contact_id,
        json_extract(COALESCE(NEW.redacted, NEW.raw), '$.ParticipantRole'),
        json_extract(COALESCE(NEW.redacted, NEW.raw), '$.Content')
    ); END;

INSERT INTO transcript_search (contact_id, role, content)
SELECT contact_id,
       json_extract(COALESCE(redacted, raw), '$.ParticipantRole'),
       json_extract(COALESCE(redacted, raw), '$.Content')
FROM segments WHERE kind = 'Transcript';
