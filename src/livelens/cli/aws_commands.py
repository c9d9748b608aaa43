"""``livelens connect ...``, ``livelens connect-contact-lens ...`` and ``livelens connectparticipant ...``.

Click hands every argument, untouched, to the aws-compatible driver in
:mod:`livelens.cli.awsdriver`, so options, help and errors are the aws CLI's.
"""

from __future__ import annotations

import sys

import click

from livelens.cli.awsdriver import SERVICES

_PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

_HELP = {
    "connect": "aws connect ... (ListRealtimeContactAnalysisSegmentsV2 and the rest), the aws CLI way.",
    "connect-contact-lens": "aws connect-contact-lens list-realtime-contact-analysis-segments, the aws CLI way.",
    "connectparticipant": "aws connectparticipant ... (chat participants), the aws CLI way.",
}


def _make(service: str) -> click.Command:
    @click.command(service, context_settings=_PASSTHROUGH, add_help_option=False, help=_HELP[service])
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        from livelens.cli.awsdriver import run

        sys.stdout.flush()
        sys.exit(run([service, *args]))

    return command


COMMANDS = [_make(service) for service in SERVICES]
