"""``livelens connect ...``, ``livelens connect-contact-lens ...``: the aws CLI, driven in-process.

The command line is awscli's own ``CLIDriver`` (argument parsing, shorthand,
``file://`` parameters, ``--cli-input-json``, ``--generate-cli-skeleton``,
``--query``, the json/text/table formatters, credentials, profiles, retries,
``--debug``) with livelens customizations, registered on awscli's event hooks:

* the global options of aws CLI v2 that v1 lacks: ``--output yaml|yaml-stream``,
  ``--cli-input-yaml``, ``--generate-cli-skeleton yaml-input``,
  ``--cli-binary-format``, ``--no-cli-pager`` (and the pager itself),
  ``--cli-auto-prompt`` / ``--no-cli-auto-prompt``;
* the endpoint and region defaults of :mod:`livelens.cli.clientconfig`;
* live pagination, ``--max-items`` / ``--starting-token`` / ``--page-size`` and
  ``--follow`` for the two segment list operations (:mod:`livelens.cli.segments`);
* errors as one line and an aws CLI v2 exit status (252 usage, 253
  configuration, 254 service error, 255 other, 130 interrupted); ``--debug``
  adds the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import difflib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any, TextIO

import botocore.session
from botocore import xform_name
from botocore.exceptions import (
    ParamValidationError,
    ProfileNotFound,
)

from livelens import __version__
from livelens.cli import clientconfig
from livelens.cli.errors import BOTOCORE_FAILURES, EXIT_INTERRUPTED, EXIT_USAGE, describe, one_line

LOG = logging.getLogger("awscli.clidriver")

SERVICES = ("connect", "connect-contact-lens", "connectparticipant")
LIVE_OPERATIONS = {
    ("connect", "list-realtime-contact-analysis-segments-v2"),
    ("connect-contact-lens", "list-realtime-contact-analysis-segments"),
}
OUTPUT_FORMATS = ["json", "text", "table", "yaml", "yaml-stream"]
AUTO_PROMPT_MODES = ("on", "on-partial", "off")

class UsageProblem(Exception):
    """A command line that cannot run: one line for the user, exit status 252."""


# --- one-line parse errors -----------------------------------------------------------------


def _install_parser_errors() -> None:
    """Make awscli's argparse parsers raise instead of printing usage and exiting."""
    from awscli.argparser import CLIArgParser

    if getattr(CLIArgParser, "_livelens", False):
        return

    def error(self: argparse.ArgumentParser, message: str) -> None:
        raise UsageProblem(message)

    def check_value(self: argparse.ArgumentParser, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        close = difflib.get_close_matches(str(value), names, n=3, cutoff=0.6)
        message = f"invalid choice: {value!r}"
        if len(names) <= 12:
            message += f" (choose from {', '.join(names)})"
        if close:
            message += f"; did you mean {' or '.join(close)}?"
        raise argparse.ArgumentError(action, message)

    CLIArgParser.error = error
    CLIArgParser._check_value = check_value
    CLIArgParser._livelens = True


# --- formatting ------------------------------------------------------------------------------


def _yaml_dump(value: Any, stream: TextIO) -> None:
    """YAML as aws CLI v2 prints it (ruamel safe dumper: block style, sorted keys, unicode kept)."""
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        pass

    def represent_datetime(dumper: yaml.SafeDumper, data: datetime.datetime) -> Any:
        return dumper.represent_str(data.isoformat())

    Dumper.add_representer(datetime.datetime, represent_datetime)
    Dumper.add_representer(OrderedDict, lambda dumper, data: dumper.represent_dict(data))
    yaml.dump(value, stream, Dumper=Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True)


def make_formatter(output: str, parsed_globals: Any) -> Any:
    from awscli.formatter import FullyBufferedFormatter, get_formatter

    if output == "yaml":

        class YAMLFormatter(FullyBufferedFormatter):  # type: ignore[misc]
            def _format_response(self, command_name: str, response: Any, stream: TextIO) -> None:
                if response != {}:
                    _yaml_dump(response, stream)

        return YAMLFormatter(parsed_globals)
    if output == "yaml-stream":

        class StreamedYAMLFormatter(FullyBufferedFormatter):  # type: ignore[misc]
            # Each response page is one item of a YAML list, so the output is a valid stream.
            def _format_response(self, command_name: str, response: Any, stream: TextIO) -> None:
                _yaml_dump([response], stream)

        return StreamedYAMLFormatter(parsed_globals)
    try:
        return get_formatter(output, parsed_globals)
    except ValueError:
        raise UsageProblem(f"unknown output type: {output!r} (choose from {', '.join(OUTPUT_FORMATS)})") from None


def output_format(session: Any, parsed_globals: Any) -> str:
    output = parsed_globals.output or session.get_config_variable("output") or "json"
    if output not in OUTPUT_FORMATS:
        raise UsageProblem(f"unknown output type: {output!r} (choose from {', '.join(OUTPUT_FORMATS)})")
    return str(output)


def _pager_command(session: Any, parsed_globals: Any) -> str | None:
    """The pager aws CLI v2 would use: AWS_PAGER, else cli_pager, else ``less``; none off a terminal."""
    if not getattr(parsed_globals, "cli_pager", True) or getattr(parsed_globals, "follow", False):
        return None
    if not sys.stdout.isatty():
        return None
    if "AWS_PAGER" in os.environ:
        pager = os.environ["AWS_PAGER"]
    else:
        try:
            pager = session.get_scoped_config().get("cli_pager", "less")
        except ProfileNotFound:
            pager = "less"
    return pager or None


@contextlib.contextmanager
def output_stream(session: Any, parsed_globals: Any) -> Iterator[IO[str]]:
    pager = _pager_command(session, parsed_globals)
    if pager is None:
        yield sys.stdout
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    try:
        process = subprocess.Popen(shlex.split(pager), stdin=subprocess.PIPE, env=env, text=True,
                                   encoding="utf-8")
    except OSError:
        yield sys.stdout
        return
    assert process.stdin is not None
    try:
        yield process.stdin
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        process.wait()


# --- operation callers -------------------------------------------------------------------------


def _operation_caller_base() -> type:
    from awscli.clidriver import CLIOperationCaller

    return CLIOperationCaller  # type: ignore[no-any-return]


class _LazyCallers:
    """The caller classes subclass awscli's CLIOperationCaller, imported when first needed."""

    _classes: dict[str, type] = {}

    @classmethod
    def get(cls, name: str) -> type:
        if not cls._classes:
            base = _operation_caller_base()

            class LivelensOperationCaller(base):  # type: ignore[misc,valid-type]
                def __init__(self, session: Any, driver: LivelensDriverMixin) -> None:
                    super().__init__(session)
                    self._driver = driver

                def _display_response(self, command_name: str, response: Any, parsed_globals: Any) -> None:
                    formatter = make_formatter(output_format(self._session, parsed_globals), parsed_globals)
                    with output_stream(self._session, parsed_globals) as stream:
                        formatter(command_name, response, stream)

            class LiveSegmentsCaller(LivelensOperationCaller):
                def invoke(self, service_name: str, operation_name: str, parameters: dict[str, Any],
                           parsed_globals: Any) -> int:
                    from awscli.utils import create_nested_client

                    from livelens.cli import segments

                    options = self._driver.live_options
                    follow = bool(options.get("follow"))
                    paging = {k: options[k] for k in ("max_items", "starting_token", "page_size")
                              if options.get(k) is not None}
                    for name in ("max_items", "page_size"):
                        if name in paging and paging[name] < 1:
                            raise UsageProblem(f"--{name.replace('_', '-')} must be at least 1")
                    if not parsed_globals.paginate and (paging or follow):
                        used = ", ".join("--" + k.replace("_", "-") for k in [*paging, *(["follow"] if follow else [])])
                        raise UsageProblem(f"cannot specify --no-paginate along with: {used}")
                    if follow and "max_items" in paging:
                        raise UsageProblem("cannot specify --follow along with --max-items")
                    output = output_format(self._session, parsed_globals)
                    client = create_nested_client(
                        self._session, service_name, region_name=parsed_globals.region,
                        endpoint_url=parsed_globals.endpoint_url, verify=parsed_globals.verify_ssl,
                    )
                    method = getattr(client, xform_name(operation_name))
                    try:
                        if follow:
                            from livelens.cli.follow import SegmentPrinter
                            from livelens.cli.push import follow_stream

                            printer = SegmentPrinter(output, parsed_globals, operation_name)

                            def poll(params: dict[str, Any], starting_token: str | None) -> None:
                                segments.follow(method, params, printer, starting_token=starting_token,
                                                page_size=paging.get("page_size"))

                            follow_stream(client, operation_name, parameters, printer,
                                          starting_token=paging.get("starting_token"),
                                          verify=parsed_globals.verify_ssl, poll=poll,
                                          parser_factory=self._session.get_component("response_parser_factory"))
                            return 0
                        if not parsed_globals.paginate:
                            response = method(**parameters)
                        else:
                            members = list(client.meta.service_model.operation_model(operation_name)
                                           .output_shape.members)
                            response = segments.collect(method, parameters, members, **paging)
                    except segments.PagingError as exc:
                        raise UsageProblem(str(exc)) from None
                    self._display_response(operation_name, response, parsed_globals)
                    return 0

            cls._classes = {"default": LivelensOperationCaller, "live": LiveSegmentsCaller}
        return cls._classes[name]


# --- arguments ---------------------------------------------------------------------------------


def _custom_argument(driver: LivelensDriverMixin, name: str, help_text: str, **kwargs: Any) -> Any:
    from awscli.arguments import CustomArgument

    class LiveArgument(CustomArgument):  # type: ignore[misc]
        def add_to_params(self, parameters: dict[str, Any], value: Any) -> None:
            if value is None:
                return
            if self.cli_type_name == "integer":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise UsageProblem(f"argument --{self.name}: expected an integer, got {value!r}") from None
            driver.live_options[self.py_name] = value

    return LiveArgument(name, help_text=help_text, **kwargs)


FOLLOW_HELP = ("<p>livelens: keep reading and print each new segment as it arrives until the contact's "
               "analysis is COMPLETED or FAILED (like <code>tail -f</code>), one segment at a time: a JSON "
               "object per line for json, a list item for yaml and yaml-stream, the text or table rows "
               "of that segment otherwise. <code>--query</code> applies to each segment's response "
               "(<code>{\"Segments\": [segment], ...}</code>); empty results are not printed.</p>")
MAX_ITEMS_HELP = ("<p>The total number of segments to return in the command's output. If more are "
                  "available, a <code>NextToken</code> is provided; pass it to <code>--starting-token</code> "
                  "to resume.</p>")
STARTING_TOKEN_HELP = ("<p>A token to specify where to start paginating: the <code>NextToken</code> of a "
                       "previous output (a raw service NextToken is accepted too).</p>")
PAGE_SIZE_HELP = "<p>The size of each page to get (MaxResults of each call). Does not limit the output.</p>"
CLI_INPUT_YAML_HELP = ("<p>Reads arguments from the YAML string provided (or <code>file://</code>). The YAML "
                       "follows the format provided by <code>--generate-cli-skeleton yaml-input</code>. "
                       "Values given on the command line override the YAML-provided values. This may not "
                       "be specified along with <code>--cli-input-json</code>.</p>")


def _input_yaml_argument(session: Any) -> Any:
    from awscli.customizations.arguments import OverrideRequiredArgsArgument

    class CliInputYAMLArgument(OverrideRequiredArgsArgument):  # type: ignore[misc]
        ARG_DATA = {"name": "cli-input-yaml", "help_text": CLI_INPUT_YAML_HELP}

    return CliInputYAMLArgument(session)


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text or "")).strip()


def yaml_input_skeleton(operation_model: Any) -> str:
    """``--generate-cli-skeleton yaml-input``: the input skeleton as YAML, each top member commented."""
    import io

    import yaml
    from botocore.utils import ArgumentGenerator

    shape = operation_model.input_shape
    if shape is None:
        return "{}\n"
    skeleton = ArgumentGenerator().generate_skeleton(shape)
    required = set(shape.required_members)
    lines: list[str] = []
    for name, member in shape.members.items():
        if member.metadata.get("idempotencyToken"):
            required.discard(name)
        buffer = io.StringIO()
        yaml.safe_dump(json.loads(json.dumps({name: skeleton.get(name)})), buffer, default_flow_style=False,
                       allow_unicode=True, sort_keys=False)
        text = buffer.getvalue().rstrip("\n").split("\n")
        doc = _strip_html(member.documentation)
        sentence = doc.split(". ")[0].rstrip(".") + "." if doc else ""
        enum = f" Valid values are: {', '.join(member.enum)}." if getattr(member, "enum", None) else ""
        note = f"  # {'[REQUIRED] ' if name in required else ''}{sentence}{enum}".rstrip()
        lines.append(text[0] + note)
        lines.extend(text[1:])
    return "\n".join(lines) + "\n"


# --- the driver ----------------------------------------------------------------------------------


def _cli_driver_class() -> type:
    from awscli.clidriver import CLIDriver

    return CLIDriver  # type: ignore[no-any-return]


def create_driver() -> Any:
    """A fresh driver (one per command line)."""
    return build_driver_class()()


_DRIVER_CLASS: type | None = None


def build_driver_class() -> type:
    global _DRIVER_CLASS
    if _DRIVER_CLASS is None:
        _DRIVER_CLASS = type("LivelensDriver", (LivelensDriverMixin, _cli_driver_class()), {})
    return _DRIVER_CLASS


class LivelensDriverMixin:
    """Mixed into awscli's CLIDriver by :func:`build_driver_class`."""

    session: Any

    def __init__(self) -> None:
        from awscli import EnvironmentVariables
        from awscli import __version__ as awscli_version
        from awscli.plugin import load_plugins
        from botocore import __version__ as botocore_version

        _install_parser_errors()
        session = botocore.session.Session(EnvironmentVariables)
        session.user_agent_name = "livelens"
        session.user_agent_version = __version__
        session.user_agent_extra = f"aws-cli/{awscli_version} botocore/{botocore_version}"
        load_plugins(session.full_config.get("plugins", {}), event_hooks=session.get_component("event_emitter"))
        super().__init__(session=session)  # type: ignore[call-arg]
        self.live_options: dict[str, Any] = {}
        self.parsed_globals: Any = None
        self._register_customizations()

    # global options --------------------------------------------------------------------------

    def _get_cli_data(self) -> dict[str, Any]:
        if getattr(self, "_cli_data", None) is None:
            data = copy.deepcopy(self.session.get_data("cli"))
            data["synopsis"] = "livelens <command> <subcommand> [parameters] [options]"
            data["description"] = ("livelens' aws-compatible command line for connect, connect-contact-lens "
                                   "and connectparticipant.")
            options = data["options"]
            options.pop("v2-debug", None)
            options["output"]["choices"] = list(OUTPUT_FORMATS)
            options["cli-binary-format"] = {
                "choices": ["base64", "raw-in-base64-out"],
                "help": "<p>The formatting style to be used for binary blobs (accepted for compatibility: "
                        "these services have no binary input).</p>",
            }
            options["no-cli-pager"] = {"action": "store_false", "dest": "cli_pager",
                                       "help": "<p>Disable cli pager for output.</p>"}
            options["cli-auto-prompt"] = {"action": "store_true",
                                          "help": "<p>Automatically prompt for CLI input parameters.</p>"}
            options["no-cli-auto-prompt"] = {"action": "store_true",
                                             "help": "<p>Disable automatically prompt for CLI input parameters.</p>"}
            self._cli_data = data
        return self._cli_data  # type: ignore[no-any-return]

    def _build_command_table(self) -> Any:
        # awscli's own customizations expect every service in the table; keep only ours afterwards.
        from botocore.compat import OrderedDict

        table = super()._build_command_table()  # type: ignore[misc]
        return OrderedDict((name, table[name]) for name in SERVICES)

    def _create_parser(self, command_table: Any) -> Any:
        from awscli.argparser import MainArgParser

        command_table["help"] = self.create_help_command()  # type: ignore[attr-defined]
        cli_data = self._get_cli_data()
        parser = MainArgParser(command_table, self.session.user_agent(), cli_data.get("description"),
                               self._get_argument_table(), prog="livelens")  # type: ignore[attr-defined]
        parser.usage = "livelens <command> <subcommand> [parameters] [options]"
        return parser

    # customizations ----------------------------------------------------------------------------

    def _register_customizations(self) -> None:
        session = self.session
        emitter = session.get_component("event_emitter")
        for service in SERVICES:
            session.register(f"building-command-table.{service}", self._use_livelens_callers)
        for service, operation in LIVE_OPERATIONS:
            session.register(f"building-argument-table.{service}.{operation}", self._add_live_arguments)
        emitter.register_last("building-argument-table", self._add_v2_input_arguments)
        emitter.register_first("calling-command.*", self._v2_input_handling)
        session.register("before-building-argument-table-parser", self._auto_prompt)

    def _use_livelens_callers(self, command_table: Any, command_object: Any, **kwargs: Any) -> None:
        service = command_object.name
        for name, command in command_table.items():
            if not hasattr(command, "_operation_caller"):
                continue
            kind = "live" if (service, name) in LIVE_OPERATIONS else "default"
            command._operation_caller = _LazyCallers.get(kind)(self.session, self)

    def _add_live_arguments(self, argument_table: Any, **kwargs: Any) -> None:
        arguments = [
            _custom_argument(self, "follow", FOLLOW_HELP, action="store_true", default=None),
            _custom_argument(self, "starting-token", STARTING_TOKEN_HELP),
            _custom_argument(self, "page-size", PAGE_SIZE_HELP, cli_type_name="integer"),
            _custom_argument(self, "max-items", MAX_ITEMS_HELP, cli_type_name="integer"),
        ]
        for argument in arguments:
            argument.add_to_arg_table(argument_table)

    def _add_v2_input_arguments(self, argument_table: Any, **kwargs: Any) -> None:
        if "cli-input-json" in argument_table and "cli-input-yaml" not in argument_table:
            _input_yaml_argument(self.session).add_to_arg_table(argument_table)
        skeleton = argument_table.get("generate-cli-skeleton")
        if skeleton is not None:
            skeleton._choices = ["input", "yaml-input", "output"]

    def _v2_input_handling(self, call_parameters: dict[str, Any], parsed_args: Any, parsed_globals: Any,
                           event_name: str = "", **kwargs: Any) -> int | None:
        import yaml
        from awscli.paramfile import LOCAL_PREFIX_MAP, get_paramfile

        input_yaml = getattr(parsed_args, "cli_input_yaml", None)
        if input_yaml is not None:
            if getattr(parsed_args, "cli_input_json", None) is not None:
                raise UsageProblem("only one of --cli-input-json or --cli-input-yaml can be provided")
            text = get_paramfile(input_yaml, LOCAL_PREFIX_MAP)
            if text is None:
                text = input_yaml
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise UsageProblem(f"--cli-input-yaml: invalid YAML: {' '.join(str(exc).split())}") from None
            if not isinstance(data, dict):
                raise UsageProblem("--cli-input-yaml: the YAML must be a mapping of parameter names to values")
            for key, value in data.items():
                call_parameters.setdefault(key, value)
        skeleton = getattr(parsed_args, "generate_cli_skeleton", None)
        if skeleton in ("yaml-input", "output"):
            # Every calling-command handler runs (the session emits to all); awscli's own skeleton
            # handler must find nothing left to do.
            parsed_args.generate_cli_skeleton = None
            _, service, operation = event_name.split(".", 2)
            service_model = self.session.get_service_model(service)
            names = {xform_name(name, "-"): name for name in service_model.operation_names}
            operation_model = service_model.operation_model(names[operation])
            if skeleton == "yaml-input":
                sys.stdout.write(yaml_input_skeleton(operation_model))
                return 0
            # As awscli's: validate the input, print a sample output. Done here because botocore's Stubber
            # (which awscli uses) rejects a sample of a tagged union (the V2 segment) in newer botocore.
            from botocore.utils import ArgumentGenerator
            from botocore.validate import validate_parameters

            if operation_model.input_shape is not None:
                validate_parameters(call_parameters, operation_model.input_shape)
            sample: dict[str, Any] = {}
            if operation_model.output_shape is not None:
                sample = ArgumentGenerator(use_member_names=True).generate_skeleton(operation_model.output_shape)
            caller = _LazyCallers.get("default")(self.session, self)
            caller._display_response(operation_model.name, sample, parsed_globals)
            return 0
        return None

    def _auto_prompt(self, argument_table: Any, args: list[str], parsed_globals: Any = None,
                     **kwargs: Any) -> None:
        mode = self._auto_prompt_mode(parsed_globals)
        if mode == "off":
            return
        present = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
        if present & {"--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton"}:
            return
        skip = {"cli-input-json", "cli-input-yaml", "generate-cli-skeleton", "follow", "starting-token",
                "page-size", "max-items"}
        for name, argument in argument_table.items():
            if name in skip or "--" + name in present or getattr(argument, "_UNDOCUMENTED", False):
                continue
            required = bool(argument.required)
            if mode == "on-partial" and not required:
                continue
            if name.startswith("no-") and name[3:] in argument_table:
                continue
            type_name = getattr(argument, "cli_type_name", "string")
            label = f"{name} ({type_name}{', required' if required else ', optional: Enter to skip'}): "
            sys.stderr.write(label)
            sys.stderr.flush()
            answer = sys.stdin.readline()
            if not answer:
                raise UsageProblem(f"no value for --{name} (standard input closed)")
            answer = answer.strip()
            if not answer:
                if required:
                    raise UsageProblem(f"--{name} is required")
                continue
            if type_name == "boolean":
                if answer.lower() in ("y", "yes", "true"):
                    args.append("--" + name)
                continue
            args.append("--" + name)
            args.extend(shlex.split(answer) if type_name == "list" else [answer])

    def _auto_prompt_mode(self, parsed_globals: Any) -> str:
        if parsed_globals is None or getattr(parsed_globals, "no_cli_auto_prompt", False):
            return "off"
        if getattr(parsed_globals, "cli_auto_prompt", False):
            return "on"
        mode = os.environ.get("AWS_CLI_AUTO_PROMPT")
        if mode is None:
            try:
                mode = self.session.get_scoped_config().get("cli_auto_prompt")
            except ProfileNotFound:
                mode = None
        mode = (mode or "off").lower()
        return mode if mode in AUTO_PROMPT_MODES else "off"

    def _handle_top_level_args(self, args: Any, remaining: list[str]) -> None:
        super()._handle_top_level_args(args, remaining)  # type: ignore[misc]
        if args.endpoint_url is None and args.command in SERVICES:
            args.endpoint_url = clientconfig.default_endpoint(self.session, args.command)
        if not args.region and not clientconfig.has_region(self.session):
            args.region = clientconfig.DEFAULT_REGION
        if args.output is not None and args.output not in OUTPUT_FORMATS:
            raise UsageProblem(f"unknown output type: {args.output!r}")
        self.parsed_globals = args

    # running -------------------------------------------------------------------------------------

    def main(self, args: list[str] | None = None) -> int:
        from awscli.argprocess import ParamError
        from awscli.arguments import UnknownArgumentError

        if args is None:
            args = sys.argv[1:]
        debug = "--debug" in args
        try:
            command_table = self._get_command_table()  # type: ignore[attr-defined]
            parser = self._create_parser(command_table)
            parsed_args, remaining = parser.parse_known_args(args)
            parsed_args.v2_debug = False
            parsed_args.follow = "--follow" in remaining
            self._handle_top_level_args(parsed_args, remaining)
            self._emit_session_event(parsed_args)  # type: ignore[attr-defined]
            return int(command_table[parsed_args.command](remaining, parsed_args) or 0)
        except (UsageProblem, argparse.ArgumentError) as exc:
            return self._fail(f"livelens: error: {exc}", EXIT_USAGE, debug)
        except UnknownArgumentError as exc:
            return self._fail(f"livelens: error: {str(exc).replace('Unknown options', 'unknown options')}",
                              EXIT_USAGE, debug)
        except (ParamError, ParamValidationError) as exc:
            return self._fail(f"livelens: error: {one_line(str(exc))}", EXIT_USAGE, debug)
        except BOTOCORE_FAILURES as exc:
            return self._fail(*describe(exc), debug)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            with contextlib.suppress(Exception):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return 0
        except ValueError as exc:
            # awscli's argument conversion (e.g. an integer option given "many") raises plain ValueErrors.
            return self._fail(f"livelens: error: invalid parameter value: {one_line(str(exc))}", EXIT_USAGE, debug)
        except Exception as exc:
            return self._fail(*describe(exc), debug)

    def _fail(self, message: str, status: int, debug: bool) -> int:
        if debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(message + "\n")
        return status


def run(args: list[str]) -> int:
    """Run ``livelens <args>`` (args start with the service name); the exit status."""
    return int(create_driver().main(list(args)))


def json_line(value: Any) -> str:
    from awscli.utils import json_encoder

    return json.dumps(value, ensure_ascii=False, default=json_encoder)
