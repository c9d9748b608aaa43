"""``--follow`` over the segment stream (``GET …/contacts/{ContactId}/stream``, docs/streaming.md).

Each streamed segment is run through the client's own response parser with
the operation's output shape, exactly as a polled page would be, and handed
to the same printer, so the output is byte-identical to polling: the
``status`` events give each segment the ``Channel`` and ``Status`` of the
log snapshot it was read in (V2 pages carry them; V1 pages do not).

Fallbacks (never a different output, never a lost or repeated segment):

* the server does not answer 200 (an older livelens without the stream
  answers 404; a bad request gets the same error polling then reports):
  polling from the start;
* a request the stream cannot express (``ListFilter``, or a
  ``--starting-token`` that skips into a page): polling;
* the connection drops mid-stream: polling, from the last segment's cursor
  (a NextToken for the same list request);
* ``LIVELENS_FOLLOW=poll`` in the environment (a proxy that buffers event
  streams): polling always.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

Emit = Callable[[dict[str, Any], dict[str, Any]], None]
V1_OPERATION = "ListRealtimeContactAnalysisSegments"
V2_OPERATION = "ListRealtimeContactAnalysisSegmentsV2"


class StreamUnavailable(Exception):
    """The stream cannot serve this request; poll instead."""


def stream_url(endpoint_url: str, operation_name: str, params: dict[str, Any]) -> str:
    """The stream URL for a list request, or :class:`StreamUnavailable` for what it cannot express."""
    if params.get("ListFilter"):
        raise StreamUnavailable("ListFilter")
    path = (f"/livelens/v1/instances/{quote(str(params['InstanceId']), safe='')}"
            f"/contacts/{quote(str(params['ContactId']), safe='')}/stream")
    query: dict[str, str] = {}
    if operation_name == V2_OPERATION:
        query["OutputType"] = str(params.get("OutputType", ""))
        if params.get("SegmentTypes"):
            query["SegmentTypes"] = ",".join(params["SegmentTypes"])
    return endpoint_url.rstrip("/") + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")


def lines_of(response: Any) -> Iterator[bytes]:
    """The response's lines as they arrive (``readline`` of a chunked response waits for more chunks)."""
    buffer = b""
    while True:
        chunk = response.read1(65536)
        if not chunk:
            if buffer:
                yield buffer
            return
        buffer += chunk
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            yield line + b"\n"


def sse_events(lines: Iterator[bytes]) -> Iterator[tuple[str, str, str | None]]:
    """``(event, data, id)`` of a ``text/event-stream`` (comments skipped)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith(":"):
            continue
        if not line:
            if data or fields:
                yield fields.get("event", "message"), "\n".join(data), fields.get("id")
            fields, data = {}, []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value


def follow_stream(client: Any, operation_name: str, params: dict[str, Any], emit: Emit, *,
                  starting_token: str | None, verify: bool | str | None,
                  poll: Callable[[dict[str, Any], str | None], Any], parser_factory: Any = None) -> Any:
    """Follow the contact through the stream; ``poll(params, starting_token)`` is the polling fallback.

    Returns the stream's ``end`` data (``{"Channel", "Status"}``), or what ``poll`` returned.

    ``parser_factory``: the session's ``response_parser_factory`` (the aws CLI sets its timestamp
    parsing there), so streamed segments parse as the client's polled pages do.
    """
    from livelens.cli.segments import decode_starting_token

    if os.environ.get("LIVELENS_FOLLOW", "").lower() == "poll":
        return poll(params, starting_token)
    cursor = params.get("NextToken")
    if starting_token is not None:
        raw, truncate = decode_starting_token(starting_token)
        if truncate:
            return poll(params, starting_token)
        cursor = raw or cursor
    try:
        url = stream_url(client.meta.endpoint_url, operation_name, params)
    except StreamUnavailable:
        return poll(params, starting_token)
    request = AWSRequest("GET", url, headers={"Accept": "text/event-stream"})
    if cursor:
        request.headers["Last-Event-ID"] = cursor
    credentials = client._request_signer._credentials
    if credentials is not None:
        SigV4Auth(credentials.get_frozen_credentials(), "connect", client.meta.region_name).add_auth(request)
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    try:
        response = urllib.request.urlopen(  # noqa: S310 (the client's own endpoint)
            urllib.request.Request(url, headers=dict(request.headers.items()), method="GET"), context=context)
    except (urllib.error.HTTPError, urllib.error.URLError, OSError):
        return poll(params, starting_token)  # no stream here (404 from an older server) or an error polling reports
    operation_model = client.meta.service_model.operation_model(operation_name)
    if parser_factory is None:
        from botocore.parsers import ResponseParserFactory

        parser_factory = ResponseParserFactory()
    parser = parser_factory.create_parser(client.meta.service_model.metadata["protocol"])
    status: dict[str, Any] = {}
    try:
        with response:
            for event, data, event_id in sse_events(lines_of(response)):
                if event == "status":
                    status = json.loads(data) if operation_name == V2_OPERATION else {}
                elif event == "segment":
                    body = json.dumps({**status, "Segments": [json.loads(data)]}).encode()
                    page = parser.parse({"body": body, "headers": {}, "status_code": 200},
                                        operation_model.output_shape)
                    page.pop("ResponseMetadata", None)
                    for segment in page.pop("Segments"):
                        emit(segment, page)
                    cursor = event_id
                elif event == "end":
                    return json.loads(data)
    except OSError:
        pass
    # The connection dropped: go on polling right after the last segment printed.
    resumed = {**params, "NextToken": cursor} if cursor else dict(params)
    return poll(resumed, None)
