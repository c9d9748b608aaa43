"""The wire endpoint: one ASGI handler for the three AWS services and livelens' own API.

Per request: route by method and raw path, authenticate (SigV4, or a
participant token for connectparticipant), read the input where the model
puts it, validate it, run the handler in a worker thread, and write the
output along the model's output shape. Every failure leaves as a rest-json
error; an unexpected exception is logged here and leaves as a bare
``InternalServiceException``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.model import ServiceModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from livelens.api import ops  # noqa: F401  (registers the handlers)
from livelens.api.auth import AuthError, SigV4Verifier
from livelens.api.authz import Authorizer
from livelens.api.context import RequestContext, Services
from livelens.api.limits import BodyTooLarge, InflightLimiter, LimitExceeded, RateLimitedLog, read_body
from livelens.api.routing import Router, registry
from livelens.api.serialize import (
    check_storable,
    dumps,
    error_body,
    error_code_for,
    error_status,
    parse_input,
    to_wire,
)
from livelens.api.throttle import Throttle
from livelens.api.validate import ShapeValidator, WireValidator, summarize
from livelens.errors import InvalidRequestException, LivelensError
from livelens.storage.base import StorageConflict, StorageUnavailable

log = logging.getLogger("livelens.api")

MAX_BODY_BYTES = 2 * 1024 * 1024
#: Operations whose body is not JSON and may be larger than ``max_body_bytes``, with their own bound.
LARGE_BODY_OPERATIONS = {("livelens", "UploadAttachment"): 20 * 1024 * 1024}

#: Operations answered on the event loop instead of a worker thread. Each only reads (SQLite in WAL
#: mode: a reader never waits for a writer) a bounded amount (MaxResults <= 100), all of it CPU work
#: that the GIL serialises anyway; the hop to a thread cost more than the work and, with several in
#: flight, made the event loop queue for the GIL behind them (BENCHMARKS.md, benchmark 2).
INLINE_OPERATIONS = frozenset({
    ("connect", "ListRealtimeContactAnalysisSegmentsV2"),
    ("connect-contact-lens", "ListRealtimeContactAnalysisSegments"),
    ("connect", "DescribeInstance"),
    ("connect", "ListInstances"),
    ("connect", "DescribeContact"),
})


class WireEndpoint:
    def __init__(
        self,
        services: Services,
        models: Mapping[str, ServiceModel],
        verifier: SigV4Verifier,
        *,
        validate_responses: bool = False,
        public_url: str = "",
        max_body_bytes: int = MAX_BODY_BYTES,
        idle_timeout: float = 30.0,
        limiter: InflightLimiter | None = None,
        authorizer: Authorizer | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.services = services
        self.models = dict(models)
        self.verifier = verifier
        self.router = Router(registry.build(self.models))
        self.validate_responses = validate_responses
        self.throttle = throttle
        self.public_url = public_url.rstrip("/")
        self._requests = ShapeValidator()
        self._responses = WireValidator(dotall=True)
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self.limiter = limiter or InflightLimiter(256, 32)
        self.authorizer = authorizer
        self._log = RateLimitedLog(log)

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint as an ASGI app (HTTP only; the application handles lifespan)."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        client = request.client.host if request.client else ""
        try:
            with self.limiter.admit(client):
                return await self._handle(request, request_id)
        except LimitExceeded as exc:
            self._log.log(logging.WARNING, exc.code, "refused %s from %s: %s", exc.code, client or "?", exc.message)
            response = self._error(request_id, exc.code, exc.status, exc.message)
            if exc.close_connection:  # the rest of the body is not read: close rather than drain it
                response.headers["connection"] = "close"
            return response

    async def _handle(self, request: Request, request_id: str) -> Response:
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        match = self.router.match(request.method, raw_path)
        if match is None:
            allowed = self.router.allows(raw_path)
            if allowed:
                return self._error(request_id, "UnknownOperationException", 405,
                                   f"{request.method} is not allowed here; use {', '.join(allowed)}.")
            return self._error(request_id, "UnknownOperationException", 404,
                               f"No operation at {request.method} {raw_path}.")
        operation = match.operation
        service_model = self.models.get(operation.service)
        try:
            body = await self._body(request, LARGE_BODY_OPERATIONS.get((operation.service, operation.name)))
            headers = {k.lower(): v for k, v in request.headers.items()}
            caller = None
            if operation.auth == "sigv4":
                caller = self.verifier.verify(request.method, self._signed_url(request, raw_path), headers, body)
            if self.throttle is not None:
                who = caller.access_key if caller else headers.get("x-amz-bearer", "anonymous")
                self.throttle.take(who, operation.service, operation.name)
            params: dict[str, Any] = dict(match.path_params)
            if operation.model is not None:
                query = request.scope.get("query_string", b"").decode("latin-1")
                params = parse_input(operation.model, match.path_params, query, headers, body)
            check_storable(params)
            if caller is not None and self.authorizer is not None:  # as IAM: authorized before validated
                self.authorizer.check(caller.access_key, caller.region, operation.service, operation.name, params)
            if operation.model is not None:
                problems = self._requests.errors(operation.model.input_shape, params)
                if problems:
                    raise InvalidRequestException(summarize(problems))
            context = RequestContext(self.services, caller, self.public_url or self._base_url(request), body)
            if caller is not None and self.authorizer is not None:
                context = dataclasses.replace(context, instance_visible=self.authorizer.visible(caller.access_key))
            if (operation.service, operation.name) in INLINE_OPERATIONS:
                result = operation.handler(context, params)
            else:
                result = await run_in_threadpool(operation.handler, context, params)
            payload = to_wire(operation.model.output_shape, result) if operation.model else result
            body = dumps(payload)
            if self.validate_responses and operation.model is not None and operation.model.output_shape is not None:
                problems = self._responses.errors(operation.model.output_shape, json.loads(body))
                if problems:
                    log.error("%s answered outside its model: %s", operation.name, summarize(problems))
                    raise RuntimeError("response does not satisfy the service model")
            return Response(body, 200, media_type="application/json",
                            headers={"x-amzn-RequestId": request_id})
        except AuthError as exc:
            return self._error(request_id, exc.code, 403, exc.message)
        except LivelensError as exc:
            code = error_code_for(operation.service, exc.code)
            return self._error(request_id, code, error_status(service_model, code), exc.message)
        except LimitExceeded:
            raise
        except StorageUnavailable as exc:  # e.g. PostgreSQL restarting: nothing happened; clients retry a 500
            conflict = isinstance(exc, StorageConflict)
            self._log.log(logging.WARNING, "storage", "request %s (%s %s) not served: %s (%s)",
                          request_id, operation.service, operation.name,
                          "conflicted with a concurrent request" if conflict else "database unavailable", exc)
            code = error_code_for(operation.service, "InternalServiceException")
            reason = "The request conflicted with a concurrent change" if conflict else "The database is unavailable"
            message = f"{reason}; nothing was changed, retry (request id {request_id})."
            return self._error(request_id, code, 500, message)
        except Exception:
            self._log.log(logging.ERROR, f"{operation.service}.{operation.name}", "request %s (%s %s) failed",
                          request_id, operation.service, operation.name, exc_info=True)
            code = error_code_for(operation.service, "InternalServiceException")
            return self._error(request_id, code, 500, f"An internal error occurred (request id {request_id}).")

    async def _body(self, request: Request, limit: int | None) -> bytes:
        """The body, bounded while it streams in (chunked or not), before anything trusts or parses it."""
        limit = limit or self.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes.")
        return await read_body(request.receive, limit, self.idle_timeout)

    @staticmethod
    def _scheme(request: Request) -> str:
        forwarded = request.headers.get("x-forwarded-proto")
        return forwarded.split(",")[0].strip() if forwarded else request.url.scheme

    def base_url(self, request: Request) -> str:
        """The URL the client addressed (scheme, host and port), as it signed it."""
        return self._base_url(request)

    def _base_url(self, request: Request) -> str:
        host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
        return f"{self._scheme(request)}://{host}"

    def _signed_url(self, request: Request, raw_path: str) -> str:
        query = request.scope.get("query_string", b"").decode("latin-1")
        return f"{self._base_url(request)}{raw_path}" + (f"?{query}" if query else "")

    @staticmethod
    def _error(request_id: str, code: str, status: int, message: str) -> Response:
        return Response(
            error_body(code, message),
            status,
            media_type="application/json",
            headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
        )
