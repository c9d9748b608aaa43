"""``livelens recording``: list a voice contact's call recordings, or download one as a WAV file
(the signed native endpoint, docs/voice.md#recordings)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import click
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.cli.clientconfig import client_options
from livelens.cli.errors import one_line_errors
from livelens.cli.replay import _endpoint


@click.command()
@click.option("--instance-id", required=True, help="The contact's instance.")
@click.option("--contact-id", required=True, help="The voice contact.")
@click.option("--recording-id", default=None, help="Download this recording [default: list the contact's].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the WAV [default: RECORDING_ID.wav].")
@client_options
def recording(instance_id: str, contact_id: str, recording_id: str | None, output: Path | None,
              endpoint_url: str | None, profile: str | None, region: str | None, no_verify_ssl: bool,
              debug: bool) -> None:
    """List a voice contact's call recordings (JSON), or download one with --recording-id."""
    with one_line_errors(debug):
        endpoint = _endpoint(profile, region, endpoint_url, no_verify_ssl, debug)
        path = f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/recordings"
        if recording_id:
            path += f"/{recording_id}"
        request = AWSRequest("GET", endpoint.url + path)
        SigV4Auth(Credentials(endpoint.access_key, endpoint.secret_key, endpoint.session_token), "connect",
                  endpoint.region).add_auth(request)
        try:
            with urllib.request.urlopen(urllib.request.Request(endpoint.url + path, headers=dict(request.headers)),
                                        timeout=60) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            error = json.loads(exc.read() or b"{}")
            raise click.ClickException(f"{error.get('__type', exc.code)}: {error.get('Message', exc.reason)}"
                                       ) from None
        if recording_id is None:
            click.echo(json.dumps(json.loads(body), indent=2))
            return
        target = output or Path(f"{recording_id}.wav")
        target.write_bytes(body)
        click.echo(f"{target} ({len(body)} bytes)")
