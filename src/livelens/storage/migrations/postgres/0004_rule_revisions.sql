-- A rule's revision, raised by every UpdateRule: with the count and the newest seq of an instance's
-- rules it tells an analysis worker whether the rules it compiled are still current (rules_fingerprint).
ALTER TABLE rules ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
