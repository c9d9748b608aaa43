"""Loading a pipeline pays for what its analysers load lazily, so a real turn does not."""

from __future__ import annotations

import json
import subprocess
import sys

# In a fresh interpreter: nothing else in the test session may have loaded the metadata first.
PROGRAM = """
import json
from phonenumbers.phonemetadata import PhoneMetadata
from livelens.analysis import load_pipeline
before = sorted(PhoneMetadata._region_metadata)
load_pipeline()
print(json.dumps({"before": before, "after": sorted(PhoneMetadata._region_metadata)}))
"""


def test_load_pipeline_loads_every_phone_region_the_redactor_matches() -> None:
    # Each region's metadata costs ~40 ms the first time phonenumbers parses a number of that
    # region; the first turn with a phone-like number took ~300 ms before the warm-up covered them.
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=300)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["before"] == []
    assert {"US", "GB", "CA", "DE", "FR", "IN", "AU", "IE"} <= set(loaded["after"])
