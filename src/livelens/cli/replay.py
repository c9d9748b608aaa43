"""``livelens replay FILE``: play a recorded conversation into a server as a live contact."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from livelens.cli.clientconfig import client_options, connect_clients
from livelens.cli.errors import one_line_errors

V2_TYPES = "Transcript Categories Issues Event Attachments PostContactSummary"


def follow_command(instance_id: str, contact_id: str, channel: str) -> str:
    if channel == "voice":
        return (f"livelens connect-contact-lens list-realtime-contact-analysis-segments --instance-id {instance_id} "
                f"--contact-id {contact_id} --follow")
    return (f"livelens connect list-realtime-contact-analysis-segments-v2 --instance-id {instance_id} "
            f"--contact-id {contact_id} --output-type Raw --segment-types {V2_TYPES} --follow")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("--agent", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The agent's side of a call, a mono WAV (with --customer; needs the voice extra on the server).")
@click.option("--customer", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The customer's side of a call, a mono WAV (with --agent).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Time scale: 2 plays twice as fast, 0.5 at half speed.")
@click.option("--channel", type=click.Choice(["chat", "voice"]), default=None,
              help="Play as a chat or as a voice call [default: the file's channel; chat for transcripts].")
@click.option("--instance-id", default=None, help="Instance to play into [default: the instance "
                                                  "aliased --instance-alias, created if missing].")
@click.option("--instance-alias", default="livelens-replay", show_default=True,
              help="Alias of the instance to use (or create) when --instance-id is not given.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the contact id.")
@client_options
def replay(file: Path | None, agent: Path | None, customer: Path | None, speed: float, channel: str | None,
           instance_id: str | None, instance_alias: str, quiet: bool, endpoint_url: str | None, profile: str | None,
           region: str | None, no_verify_ssl: bool, debug: bool) -> None:
    """Play FILE into the server as a live contact, with its original timing scaled by --speed.

    FILE is a simple turn list (JSON or JSON Lines) or an Amazon Connect chat transcript (JSON).
    Chat is played through StartChatContact, CreateParticipant and connectparticipant SendMessage,
    voice through CreateContact and the utterance API, as a real client does; StopContact ends it.

    FILE may also be a call recording (.wav, 16-bit PCM, 8 or 16 kHz; stereo: left agent, right
    customer), or give --agent A.wav --customer B.wav: the audio is streamed at real speed to the
    contact's audio WebSocket and transcribed by the server.
    """
    from livelens.replay import ConversationError, ensure_instance, load_conversation, play

    audio = agent is not None or customer is not None or (file is not None and file.suffix.lower() == ".wav")
    if audio and file is not None and (agent is not None or customer is not None):
        raise click.UsageError("give a call recording or --agent/--customer, not both")
    if file is None and not audio:
        raise click.UsageError("Missing argument 'FILE'.")
    if audio:
        _replay_audio(file, agent, customer, speed, instance_id, instance_alias, quiet, endpoint_url, profile,
                      region, no_verify_ssl, debug)
        return
    assert file is not None
    try:
        conversation = load_conversation(file, channel=channel)
    except ConversationError as exc:
        raise click.UsageError(str(exc)) from None
    with one_line_errors(debug):
        endpoint = _endpoint(profile, region, endpoint_url, no_verify_ssl, debug)
        instance = instance_id or ensure_instance(endpoint, instance_alias)
        start = len(conversation["turns"])

        started: list[str] = []

        def on_start(contact_id: str) -> None:
            started.append(contact_id)
            if quiet:
                click.echo(contact_id)
            else:
                click.echo(f"Replaying '{conversation['title']}' ({conversation['channel']}, {start} turns, "
                           f"speed {speed:g}) as contact {contact_id} on instance {instance}.")
                click.echo(f"Follow it with:\n  {follow_command(instance, contact_id, conversation['channel'])}")
            sys.stdout.flush()

        def on_turn(turn: dict[str, Any]) -> None:
            if not quiet:
                click.echo(f"  [{turn['start']:7.1f}s] {turn['role']}: {turn['text']}")

        try:
            contact_id = play(endpoint, instance, conversation, speed=speed, on_start=on_start, on_turn=on_turn)
        except KeyboardInterrupt:
            if started and not quiet:
                click.echo(f"Interrupted: contact {started[0]} stopped.", err=True)
            raise SystemExit(130) from None
        if not quiet:
            click.echo(f"Contact {contact_id} stopped.")


def _endpoint(profile: str | None, region: str | None, endpoint_url: str | None, no_verify_ssl: bool,
              debug: bool) -> Any:
    from livelens.replay import Endpoint

    session, url = connect_clients(profile, region, endpoint_url, no_verify_ssl, debug)
    credentials = session.get_credentials()
    if credentials is None:
        from botocore.exceptions import NoCredentialsError

        raise NoCredentialsError()
    frozen = credentials.get_frozen_credentials()
    if url is None:  # the aws configuration names the endpoint
        url = session.create_client("connect").meta.endpoint_url
    return Endpoint(url, frozen.access_key, frozen.secret_key, session.get_config_variable("region"), frozen.token)


def _replay_audio(file: Path | None, agent: Path | None, customer: Path | None, speed: float,
                  instance_id: str | None, instance_alias: str, quiet: bool, endpoint_url: str | None,
                  profile: str | None, region: str | None, no_verify_ssl: bool, debug: bool) -> None:
    from livelens.replay import ConversationError, ensure_instance, load_call_audio, play_audio

    try:
        fmt, pcm = load_call_audio(file, agent, customer)
    except ConversationError as exc:
        raise click.UsageError(str(exc)) from None
    seconds = len(pcm) / fmt.frame_bytes / fmt.sample_rate
    with one_line_errors(debug):
        endpoint = _endpoint(profile, region, endpoint_url, no_verify_ssl, debug)
        instance = instance_id or ensure_instance(endpoint, instance_alias)

        def on_start(contact_id: str) -> None:
            if quiet:
                click.echo(contact_id)
            else:
                click.echo(f"Streaming {file or f'{agent} + {customer}'} ({seconds:.1f} s, {fmt.sample_rate} Hz, "
                           f"{fmt.channels} channel(s), speed {speed:g}) as contact {contact_id} on instance "
                           f"{instance}.")
                click.echo(f"Follow it with:\n  {follow_command(instance, contact_id, 'voice')}")
            sys.stdout.flush()

        def on_event(event: dict[str, Any]) -> None:
            if quiet:
                return
            if "Transcript" not in event:
                click.echo(f"  server: {event.get('__type')}: {event.get('Message')}", err=True)
                return
            for result in event["Transcript"]["Results"]:
                if result["IsPartial"]:
                    continue
                text = result["Alternatives"][0]["Transcript"]
                click.echo(f"  [{result['StartTime']:7.1f}s] {result['ParticipantRole']}: {text}")

        try:
            contact_id = play_audio(endpoint, instance, fmt, pcm, speed=speed, on_start=on_start, on_event=on_event)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        if not quiet:
            click.echo(f"Contact {contact_id} stopped.")
