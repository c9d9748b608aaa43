-- The instance event log (SQLite migration 0009): what the instance stream
-- (GET /livelens/v1/instances/{I}/stream) and stream-event webhooks read. One row per contact start,
-- per appended segment, per end of analysis (COMPLETED or FAILED) and per rule alert (a recorded
-- GENERATE_EVENTBRIDGE_EVENT action), written only by these triggers in the transaction that writes
-- the row they index, so an event is visible exactly when what it points at is.
--
-- Readers move a cursor past every position they have seen, so positions must become visible in
-- commit order: no reader may see position N while an event below N can still commit. A sequence
-- alone does not give that on PostgreSQL (two transactions can commit in the other order than they
-- took their numbers), so every event is numbered under one transaction-level advisory lock, held
-- until commit: transactions that write events commit their events one after another, the way
-- SQLite's single writer does for everything.

CREATE TABLE instance_events (
    seq BIGINT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref BIGINT
);
CREATE INDEX instance_events_instance ON instance_events (instance_id, seq);
CREATE SEQUENCE instance_events_seq OWNED BY instance_events.seq;

CREATE FUNCTION livelens_instance_event(p_instance TEXT, p_contact TEXT, p_kind TEXT, p_ref BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- 0x6C6C5F6576656E74 is "ll_event": the lock that orders event positions by commit
    PERFORM pg_advisory_xact_lock(7812724342963662452);
    INSERT INTO instance_events (seq, instance_id, contact_id, kind, ref)
    VALUES (nextval('instance_events_seq'), p_instance, p_contact, p_kind, p_ref);
END $$;

CREATE FUNCTION livelens_event_started() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livelens_instance_event(NEW.instance_id, NEW.id, 'STARTED', NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER instance_events_started AFTER INSERT ON contacts
FOR EACH ROW EXECUTE FUNCTION livelens_event_started();

CREATE FUNCTION livelens_event_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livelens_instance_event(NEW.instance_id, NEW.id, NEW.analysis_status, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER instance_events_ended AFTER UPDATE OF analysis_status ON contacts
FOR EACH ROW WHEN (NEW.analysis_status IN ('COMPLETED', 'FAILED')
                   AND OLD.analysis_status IS DISTINCT FROM NEW.analysis_status)
EXECUTE FUNCTION livelens_event_ended();

CREATE FUNCTION livelens_event_segment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livelens_instance_event(c.instance_id, c.id, 'SEGMENT', NEW.seq)
    FROM contacts c WHERE c.id = NEW.contact_id;
    RETURN NULL;
END $$;
CREATE TRIGGER instance_events_segment AFTER INSERT ON segments
FOR EACH ROW EXECUTE FUNCTION livelens_event_segment();

CREATE FUNCTION livelens_event_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM livelens_instance_event(NEW.instance_id, NEW.data::json ->> 'ContactId', 'ALERT', NEW.seq);
    RETURN NULL;
END $$;
CREATE TRIGGER instance_events_alert AFTER INSERT ON rule_actions
FOR EACH ROW WHEN ((NEW.data::json ->> 'ActionType') = 'GENERATE_EVENTBRIDGE_EVENT')
EXECUTE FUNCTION livelens_event_alert();
