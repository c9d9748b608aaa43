"""Regenerate the example call (src/livelens/demo/call.wav, linked as examples/call.wav): a short
synthesised support call, 8 kHz stereo (left agent, right customer), that `livelens demo` replays."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.speech import Line, dialogue, write_wav  # noqa: E402

LINES = [
    Line("AGENT", "Thank you for calling. How can I help?"),
    Line("CUSTOMER", "My internet keeps dropping and I am really frustrated."),
    Line("AGENT", "Sorry about that. I have reset your line."),
    Line("CUSTOMER", "Great, thank you so much."),
]

if __name__ == "__main__":
    pcm, spans = dialogue(LINES, 8000, gap_s=0.6, lead_s=0.3)
    write_wav(str(Path(__file__).resolve().parent.parent / "src" / "livelens" / "demo" / "call.wav"), pcm, 8000, 2)
    for role, begin, end in spans:
        print(role, begin, end)
