"""Reading a live contact's segment log: every segment available now, or follow it to the end.

The two list operations (``ListRealtimeContactAnalysisSegments`` and ``...V2``)
carry a NextToken on every page while the analysis is in progress, also when
nothing is new; the aws CLI therefore makes a single call for them. livelens
follows NextToken until it has every segment available *now*: it stops at a
page without NextToken (the analysis is over) or at an empty page with one
(nothing more yet). ``follow`` keeps reading, with backoff while nothing is
new, until the analysis is over.

``--max-items`` / ``--starting-token`` work as for every aws paginated command,
with botocore's token encoding (``{"NextToken": ..., "boto_truncate_amount": n}``).
A ``--starting-token`` may also be a raw NextToken from the service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.paginate import TokenDecoder, TokenEncoder

Call = Callable[..., dict[str, Any]]
Sleep = Callable[[float], None]

TERMINAL_STATUSES = ("COMPLETED", "FAILED")


class PagingError(ValueError):
    """A paging option that cannot be used (a bad --starting-token)."""


def decode_starting_token(token: str) -> tuple[str | None, int]:
    """``(raw NextToken, segments to skip on the first page)`` for a ``--starting-token``."""
    try:
        decoded = TokenDecoder().decode(token)
    except Exception:
        return token, 0  # a raw service NextToken
    if not isinstance(decoded, dict) or not ({"NextToken", "boto_truncate_amount"} & set(decoded)):
        return token, 0
    truncate = decoded.get("boto_truncate_amount", 0)
    if not isinstance(truncate, int) or truncate < 0:
        raise PagingError("--starting-token is not a valid starting token")
    return decoded.get("NextToken"), truncate


def _first_request(
    params: dict[str, Any], page_size: int | None, starting_token: str | None
) -> tuple[dict[str, Any], int]:
    """The first call's parameters (``--page-size``, ``--starting-token``) and how many segments to skip."""
    params = dict(params)
    if page_size is not None:
        params["MaxResults"] = page_size
    truncate = 0
    if starting_token is not None:
        if params.get("NextToken"):
            raise PagingError("--starting-token cannot be used together with --next-token")
        raw, truncate = decode_starting_token(starting_token)
        if raw is not None:
            params["NextToken"] = raw
    return params, truncate


def encode_resume_token(next_token: str | None, truncate: int) -> str:
    payload: dict[str, Any] = {"NextToken": next_token}
    if truncate:
        payload["boto_truncate_amount"] = truncate
    return str(TokenEncoder().encode(payload))


def _strip(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "ResponseMetadata"}


def collect(call: Call, params: dict[str, Any], output_members: list[str], *, max_items: int | None = None,
            starting_token: str | None = None, page_size: int | None = None) -> dict[str, Any]:
    """Every segment available now, as one response shaped like a single page.

    Keys follow the output shape's member order (as botocore parses a single
    page); scalar members (``Channel``, ``Status``) come from the last page.
    ``NextToken`` is the last page's (call again later with it) unless
    ``max_items`` cut the listing, in which case it is a ``--starting-token``.
    """
    params, truncate = _first_request(params, page_size, starting_token)
    segments: list[Any] = []
    last: dict[str, Any] = {}
    resume: str | None = None
    first = True
    while True:
        used_token = params.get("NextToken")
        page = _strip(call(**params))
        last = page
        page_segments = list(page.get("Segments", []))
        skip = truncate if first else 0
        available = page_segments[skip:]
        first = False
        next_token = page.get("NextToken")
        if max_items is not None and len(segments) + len(available) >= max_items:
            wanted = max_items - len(segments)
            segments.extend(available[:wanted])
            if len(available) > wanted:
                resume = encode_resume_token(used_token, skip + wanted)
            elif next_token:
                resume = encode_resume_token(next_token, 0)
            break
        segments.extend(available)
        if not next_token or not page_segments:
            break
        params["NextToken"] = next_token
    result: dict[str, Any] = {}
    for member in output_members:
        if member == "Segments":
            result["Segments"] = segments
        elif member == "NextToken":
            token = resume if max_items is not None else last.get("NextToken")
            if token:
                result["NextToken"] = token
        elif member in last:
            result[member] = last[member]
    return result


@dataclass
class Backoff:
    initial: float = 0.2
    maximum: float = 2.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.factor)


def follow(call: Call, params: dict[str, Any], emit: Callable[[dict[str, Any], dict[str, Any]], None], *,
           starting_token: str | None = None, page_size: int | None = None, backoff: Backoff | None = None,
           sleep: Sleep = time.sleep) -> dict[str, Any]:
    """Emit each segment once, in order, as it arrives; return the last page when the analysis is over.

    ``emit(segment, page)`` is called for every segment. Reading stops at a
    page without NextToken, or at an empty page of a contact whose Status is
    COMPLETED or FAILED. While pages come back empty the next read waits
    ``backoff`` (0.2 s doubling to 2 s); a page with segments resets it.
    """
    params, truncate = _first_request(params, page_size, starting_token)
    backoff = backoff or Backoff()
    delays = backoff.delays()
    while True:
        page = _strip(call(**params))
        page_segments = list(page.get("Segments", []))
        for segment in page_segments[truncate:]:
            emit(segment, page)
        truncate = 0
        next_token = page.get("NextToken")
        if not next_token:
            return page
        if not page_segments and page.get("Status") in TERMINAL_STATUSES:
            return page
        params["NextToken"] = next_token
        if page_segments:
            delays = backoff.delays()
        else:
            sleep(next(delays))
