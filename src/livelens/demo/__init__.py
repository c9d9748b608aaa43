"""Demo conversations that `make run` replays into a fresh server."""
