"""The domain: instances, contacts, participants, the transcript and the segment log."""
