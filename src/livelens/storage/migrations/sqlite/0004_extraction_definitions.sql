-- Extraction definitions (connect CreateExtractionDefinition ...): what an
-- EXTRACT_INFORMATION rule action extracts. Names are unique per instance.

CREATE TABLE extraction_definitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX extraction_definitions_name ON extraction_definitions (instance_id, name);
CREATE INDEX extraction_definitions_instance ON extraction_definitions (instance_id, seq);
