"""Adapters that turn incoming chat messages and voice utterances into transcript items."""
