-- When a contact's oldest unanalysed item was accepted (items.accepted_at of item analysed_seq + 1),
-- kept beside the cursor: set by the append that makes the contact pending, moved by every cursor
-- advance. Workers claim the contacts waiting longest first by walking contacts_claimable in order
-- and stop at their batch size, instead of joining and sorting every pending contact per claim.
ALTER TABLE contacts ADD COLUMN pending_since DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE contacts SET pending_since = COALESCE(
    (SELECT i.accepted_at FROM items i WHERE i.contact_id = contacts.id AND i.seq = contacts.analysed_seq + 1), 0)
WHERE last_item_seq > analysed_seq;
CREATE INDEX contacts_claimable ON contacts (pending_since) WHERE last_item_seq > analysed_seq;
