"""Load-once helpers shared by the analysers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def load_once(loader: Callable[[], T]) -> Callable[[], T]:
    """Cache a zero-argument loader for the life of the process.

    ``functools.lru_cache`` alone would let two threads that ask at the same
    time both load the model; the lock makes the second one wait for the
    first. ``cache_clear`` is kept for tests.
    """
    lock = threading.Lock()
    cached = functools.lru_cache(maxsize=None)(loader)

    @functools.wraps(loader)
    def wrapper() -> T:
        with lock:
            return cached()

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper
