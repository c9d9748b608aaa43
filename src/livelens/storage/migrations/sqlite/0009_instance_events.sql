-- The instance event log: what the instance stream (GET /livelens/v1/instances/{I}/stream) and
-- stream-event webhooks read. One row per contact start, per appended segment, per end of analysis
-- (COMPLETED or FAILED) and per rule alert (a recorded GENERATE_EVENTBRIDGE_EVENT action), in commit
-- order; `seq` is the stream's position. Written only by these triggers, in the transaction that
-- writes the row they index, so an event is visible exactly when what it points at is. Events
-- start at this migration (earlier contacts have none). (Trigger bodies end on the line of their
-- END: the migration runner splits statements at a semicolon that ends a line.)

CREATE TABLE instance_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref INTEGER
);
CREATE INDEX instance_events_instance ON instance_events (instance_id, seq);

CREATE TRIGGER instance_events_started AFTER INSERT ON contacts
BEGIN
    INSERT INTO instance_events (instance_id, contact_id, kind) VALUES (NEW.instance_id, NEW.id, 'STARTED'); END;

CREATE TRIGGER instance_events_ended AFTER UPDATE OF analysis_status ON contacts
WHEN NEW.analysis_status IN ('COMPLETED', 'FAILED') AND OLD.analysis_status IS NOT NEW.analysis_status
BEGIN
    INSERT INTO instance_events (instance_id, contact_id, kind)
    VALUES (NEW.instance_id, NEW.id, NEW.analysis_status); END;

CREATE TRIGGER instance_events_segment AFTER INSERT ON segments
BEGIN
    INSERT INTO instance_events (instance_id, contact_id, kind, ref)
    SELECT instance_id, id, 'SEGMENT', NEW.seq FROM contacts WHERE id = NEW.contact_id; END;

CREATE TRIGGER instance_events_alert AFTER INSERT ON rule_actions
WHEN json_extract(NEW.data, '$.ActionType') = 'GENERATE_EVENTBRIDGE_EVENT'
BEGIN
    INSERT INTO instance_events (instance_id, contact_id, kind, ref)
    VALUES (NEW.instance_id, json_extract(NEW.data, '$.ContactId'), 'ALERT', NEW.seq); END;
