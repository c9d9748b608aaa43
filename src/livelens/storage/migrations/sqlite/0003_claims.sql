-- Claimed analysis work (issue 12). A worker claims a contact with pending
-- items by writing a lease: its id (lease_owner), when the lease ends
-- (lease_expires, Unix seconds) and a fencing number (lease_fence) that grows
-- by one with every claim. A worker's commit checks, in its own transaction,
-- that the fence is still the one it claimed with; a newer claim (the lease
-- expired and another worker took over) makes the old worker's commit fail.
-- retry_at / analysis_failures back a contact off after a failed attempt.
ALTER TABLE contacts ADD COLUMN lease_owner TEXT;
ALTER TABLE contacts ADD COLUMN lease_expires REAL NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN lease_fence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN retry_at REAL NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN analysis_failures INTEGER NOT NULL DEFAULT 0;

-- When an item was accepted (Unix seconds): orders claims oldest-first and
-- gives the age of the oldest unanalysed item.
ALTER TABLE items ADD COLUMN accepted_at REAL;

-- Live analysis workers: each refreshes its row (heartbeat_at) and its
-- counters and latency histograms (stats, JSON) every few seconds.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stats TEXT NOT NULL
);
