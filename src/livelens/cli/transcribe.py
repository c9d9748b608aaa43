"""``livelens transcribe FILE``: a WAV file's transcript, offline, with the same VAD and recogniser as
the audio WebSocket (needs the voice extra)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel-roles", default="AGENT,CUSTOMER", show_default=True,
              help="Roles of a stereo file's channels, left first.")
@click.option("--role", default="CUSTOMER", show_default=True, help="Role of a mono file's speaker.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per utterance (role, offsets, text).")
def transcribe(file: Path, channel_roles: str, role: str, as_json: bool) -> None:
    """Print FILE's transcript (16-bit PCM WAV, 8 or 16 kHz, mono or stereo), one utterance a line."""
    from livelens.config import Settings
    from livelens.voice import configure, unavailable_reason

    try:
        settings = Settings.load()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    configure(settings.voice_model, settings.voice_batch, settings.voice_window)  # LIVELENS_VOICE_* apply here too
    reason = unavailable_reason()
    if reason is not None:
        raise click.ClickException(reason)
    from livelens.voice.audio import WavError, read_wav, split_channels
    from livelens.voice.recognizer import load_recognizer
    from livelens.voice.vad import ChannelCutter

    try:
        fmt, pcm = read_wav(file)
    except WavError as exc:
        raise click.UsageError(str(exc)) from None
    roles = channel_roles.split(",") if fmt.channels == 2 else [role]
    if len(roles) != fmt.channels:
        raise click.UsageError("--channel-roles must name two roles, left channel first")
    recognizer = load_recognizer(1)
    found = []
    for channel, samples in enumerate(split_channels(pcm, fmt)):
        cutter = ChannelCutter()
        found += [(u.begin_ms, u.end_ms, roles[channel], u) for u in cutter.feed(samples) + cutter.flush()]
    for begin, end, speaker, utterance in sorted(found, key=lambda f: f[0]):
        text = recognizer.transcribe(utterance.samples).text
        if not text:
            continue
        if as_json:
            click.echo(json.dumps({"ParticipantRole": speaker, "BeginOffsetMillis": begin,
                                   "EndOffsetMillis": end, "Content": text}))
        else:
            click.echo(f"[{begin / 1000:7.2f}s - {end / 1000:7.2f}s] {speaker}: {text}")
