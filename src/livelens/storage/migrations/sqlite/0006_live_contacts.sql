-- Contacts that have not ended, for the sweep that ends idle and expired ones (contacts/lifecycle.py).
CREATE INDEX contacts_live ON contacts (id) WHERE ended = 0;
