"""``--follow``: print each new segment as it arrives, in the chosen ``--output``.

Each segment is printed on its own as soon as it is read, and flushed:

* ``json``: one segment per line (JSON Lines), ready for ``jq``;
* ``yaml`` / ``yaml-stream``: the segment as one item of a YAML list, so the output so far is always
  valid YAML (the ``Segments`` list);
* ``text`` / ``table``: the aws text or table rendering of ``{"Segments": [segment]}``.

``--query`` is applied to each segment's response, ``{"Segments": [segment]}``
plus the page's ``Channel`` and ``Status`` (V2); results that are null or empty
are not printed, so ``--query 'Segments[].Transcript.Content'`` prints one line
per transcript turn.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from livelens.cli.awsdriver import _yaml_dump, json_line, make_formatter


class SegmentPrinter:
    def __init__(self, output: str, parsed_globals: Any, operation_name: str, stream: TextIO | None = None) -> None:
        self.output = output
        self.query = getattr(parsed_globals, "query", None)
        self.parsed_globals = parsed_globals
        self.operation_name = operation_name
        self.stream = stream
        self.printed = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def __call__(self, segment: dict[str, Any], page: dict[str, Any]) -> None:
        response: dict[str, Any] = {k: v for k, v in page.items() if k in ("Channel", "Status")}
        response["Segments"] = [segment]
        value: Any = response
        if self.query is None and self.output in ("json", "yaml", "yaml-stream"):
            value = segment
        if self.query is not None:
            value = self.query.search(response)
            if value is None or value == [] or value == {}:
                return
        stream = self._out()
        if self.output == "json":
            stream.write(json_line(value) + "\n")
        elif self.output in ("yaml", "yaml-stream"):
            _yaml_dump([value], stream)
        else:
            # The awscli text/table formatters, without a second --query pass.
            globals_without_query = _Namespace(self.parsed_globals, query=None)
            make_formatter(self.output, globals_without_query)(self.operation_name, value, stream)
        stream.flush()
        self.printed += 1


class _Namespace:
    """parsed_globals with some attributes replaced."""

    def __init__(self, base: Any, **overrides: Any) -> None:
        self._base = base
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._base, name)
