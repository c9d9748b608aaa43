-- V2 segments (Transcript, Event, Attachments) carry Time.AbsoluteTime, an `iso8601` timestamp in the
-- connect model. Versions before 0.2 stored it as epoch seconds (a number), which botocore accepts but
-- the other AWS SDKs reject; rewrite those to the form AWS sends: UTC, milliseconds, 'Z'.
UPDATE segments
SET raw = json_set(raw, '$.Time.AbsoluteTime',
                   strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(raw, '$.Time.AbsoluteTime'), 'unixepoch'))
WHERE raw IS NOT NULL AND json_type(raw, '$.Time.AbsoluteTime') IN ('integer', 'real');
UPDATE segments
SET redacted = json_set(redacted, '$.Time.AbsoluteTime',
                        strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(redacted, '$.Time.AbsoluteTime'), 'unixepoch'))
WHERE redacted IS NOT NULL AND json_type(redacted, '$.Time.AbsoluteTime') IN ('integer', 'real');
