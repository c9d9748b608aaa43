"""One client for OpenAI-compatible ``/chat/completions`` endpoints, shared by the summary and the extractor.

Both callers report failures with Contact Lens' failure codes, so the client
answers with a :class:`Completion` that carries either the text or the code:
HTTP 429 → ``QUOTA_EXCEEDED``; a content filter (``finish_reason`` or an error
code) → ``FAILED_SAFETY_GUIDELINES``; anything else that goes wrong (HTTP
errors, time-outs, malformed answers, empty text) → ``INTERNAL_ERROR``.
What to send is the caller's business: for a redacting contact, only its
redacted text.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livelens.analysis.types import SummaryFailureCode

_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "content_filtered", "safety"})


@dataclass(frozen=True)
class Completion:
    content: str | None = None
    failure_code: SummaryFailureCode | None = None


class ChatCompletions:
    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 20.0,
                 opener: Callable[..., Any] = urllib.request.urlopen) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.opener = opener

    def complete(self, system: str, user: str) -> Completion:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.endpoint, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with self.opener(request, timeout=self.timeout) as response:  # the configured URL
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            return Completion(failure_code=_failure_for_http_error(exc))
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError, OSError):
            return Completion(failure_code="INTERNAL_ERROR")
        try:
            choice = payload["choices"][0]
            if choice.get("finish_reason") == "content_filter":
                return Completion(failure_code="FAILED_SAFETY_GUIDELINES")
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError, AttributeError):
            return Completion(failure_code="INTERNAL_ERROR")
        if not isinstance(content, str) or not content.strip():
            return Completion(failure_code="INTERNAL_ERROR")
        return Completion(content=content)


def _failure_for_http_error(exc: urllib.error.HTTPError) -> SummaryFailureCode:
    if exc.code == 429:
        return "QUOTA_EXCEEDED"
    try:
        error = json.loads(exc.read().decode("utf-8")).get("error") or {}
    except (ValueError, AttributeError, OSError):
        error = {}
    codes = {str(error.get(k, "")).lower() for k in ("code", "type")} if isinstance(error, dict) else set()
    return "FAILED_SAFETY_GUIDELINES" if codes & _FILTER_CODES else "INTERNAL_ERROR"
