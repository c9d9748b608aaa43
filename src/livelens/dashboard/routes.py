"""The dashboard's pages and data endpoints, all behind a session cookie.

Pages: ``GET /`` (the dashboard, or the sign-in page without a valid
session), ``POST /dashboard/sign-in``, ``POST /dashboard/sign-out``, and the
assets under ``/dashboard/static/``. Data endpoints live under
``/dashboard/api/``; without a valid session they answer 401 JSON (the page
then shows the sign-in form). Every endpoint checks the session key's policy
(livelens.api.authz) as the AWS operation it mirrors would: the wall, a
contact and its stream as ``ListRealtimeContactAnalysisSegmentsV2``, history
as ``SearchContacts``, rules as ``ListRules`` and the dry run as ``TestRule``.
State-changing requests (sign-in, sign-out, the dry run) need the CSRF token.
"""

from __future__ import annotations

import csv
import hmac
import html
import io
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, Router

from livelens.api.authz import Authorizer
from livelens.api.stream import SegmentStream
from livelens.contacts.rule_book import RuleBook
from livelens.contacts.search import ContactSearch
from livelens.contacts.segment_log import SegmentLog
from livelens.dashboard.history import search_history, transcript_turns
from livelens.dashboard.session import SESSION_COOKIE, SIGNIN_COOKIE, Session, SessionSigner
from livelens.dashboard.wall import Wall
from livelens.errors import AccessDeniedException, InvalidRequestException, LivelensError

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
REGION = "us-east-1"
#: Failed sign-ins one client address may make per window before it must wait (guessing secrets is slow).
SIGNIN_FAILURES, SIGNIN_WINDOW_SECONDS = 10, 60.0
REVOKED_META = "dashboard_signed_out"


def _asset(name: str) -> str:
    return resources.files("livelens.dashboard").joinpath("static", name).read_text(encoding="utf-8")


class Dashboard:
    def __init__(self, *, segments: SegmentLog, search: ContactSearch, rules: RuleBook,
                 credentials: Callable[[], Mapping[str, str]], authorizer: Authorizer, signer: SessionSigner,
                 stream: SegmentStream, wall: Wall, secure_cookies: bool) -> None:
        self.segments = segments
        self.search_book = search
        self.rules = rules
        self.credentials = credentials
        self.authorizer = authorizer
        self.signer = signer
        self.stream = stream
        self.wall = wall
        self.secure = secure_cookies
        self._failures: dict[str, deque[float]] = {}
        self._revoked_cache: dict[str, int] = {}
        self._revoked_at = -1.0
        self.router = Router(routes=[
            Route("/", self.index, methods=["GET", "HEAD"]),
            Route("/dashboard/sign-in", self.sign_in, methods=["POST"]),
            Route("/dashboard/sign-out", self.sign_out, methods=["POST"]),
            Route("/dashboard/static/{name}", self.static, methods=["GET", "HEAD"]),
            Route("/dashboard/api/instances", self.instances, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/wall", self.wall_stream, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/contacts/{ContactId}", self.contact, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/contacts/{ContactId}/stream", self.contact_stream,
                  methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/contacts/{ContactId}/export", self.export, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/history", self.history, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/rules", self.list_rules, methods=["GET"]),
            Route("/dashboard/api/instances/{InstanceId}/rules/test", self.test_rule, methods=["POST"]),
        ])

    @staticmethod
    def handles(path: str) -> bool:
        return path == "/" or path.startswith("/dashboard/")

    # sessions -------------------------------------------------------------------------
    def session(self, request: Request) -> Session | None:
        session = self.signer.verify(request.cookies.get(SESSION_COOKIE))
        if session is None or session.access_key not in self.credentials():
            return None  # forged, expired, or its key was removed from the credentials
        if session.nonce in self._revoked():
            return None  # signed out
        return session

    def _revoked(self) -> dict[str, int]:
        """Nonces of sessions signed out before their expiry (in the database, so every node honours them;
        re-read at most every second)."""
        now = time.monotonic()
        if now - self._revoked_at >= 1.0:
            with self.segments.center.storage.read() as tx:
                self._revoked_cache = json.loads(tx.get_meta(REVOKED_META) or "{}")
            self._revoked_at = now
        return self._revoked_cache

    def _revoke(self, session: Session) -> None:
        with self.segments.center.storage.write() as tx:
            revoked = {nonce: expires for nonce, expires in json.loads(tx.get_meta(REVOKED_META) or "{}").items()
                       if expires > time.time()}
            revoked[session.nonce] = session.expires
            tx.set_meta(REVOKED_META, json.dumps(revoked))
        self._revoked_at = -1.0

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                            secure=self.secure)

    def _signin_page(self, message: str = "", status: int = 200) -> Response:
        nonce, token = self.signer.signin_nonce()
        alert = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        page = _asset("signin.html").replace("{{csrf}}", token).replace("{{message}}", alert)
        response = HTMLResponse(page, status, headers=SECURITY_HEADERS)
        self._cookie(response, SIGNIN_COOKIE, nonce, 3600)
        return response

    async def index(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return self._signin_page()
        page = (_asset("index.html").replace("{{csrf}}", self.signer.csrf_token(session))
                .replace("{{access_key}}", html.escape(session.access_key)))
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > 16_384:
            return {}
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}

    def _too_many_failures(self, address: str, failed: bool = False) -> bool:
        now = time.monotonic()
        recent = self._failures.setdefault(address, deque())
        while recent and recent[0] < now - SIGNIN_WINDOW_SECONDS:
            recent.popleft()
        if failed:
            recent.append(now)
        if not recent:
            del self._failures[address]
        return len(recent) >= SIGNIN_FAILURES

    async def sign_in(self, request: Request) -> Response:
        form = await self._form(request)
        address = request.client.host if request.client else ""
        if self._too_many_failures(address):
            return self._signin_page("Too many failed sign-ins from this address; wait a minute.", 429)
        if not self.signer.check_signin(request.cookies.get(SIGNIN_COOKIE), form.get("csrf")):
            return self._signin_page("The sign-in form expired or was not sent by this page; please try again.", 403)
        access_key, secret = form.get("access_key", "").strip(), form.get("secret_key", "").strip()
        known = self.credentials().get(access_key)
        if not access_key or known is None or not hmac.compare_digest(known.encode(), secret.encode()):
            self._too_many_failures(address, failed=True)
            return self._signin_page("Unknown access key ID or wrong secret access key.", 401)
        value, _ = self.signer.issue(access_key)
        response = RedirectResponse("/", 303, headers=SECURITY_HEADERS)
        self._cookie(response, SESSION_COOKIE, value, self.signer.lifetime)
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    async def sign_out(self, request: Request) -> Response:
        session = self.session(request)
        form = await self._form(request)
        if session is not None and not self.signer.check_csrf(session, form.get("csrf")):
            return Response("CSRF token missing or wrong.", 403, headers=SECURITY_HEADERS)
        if session is not None:
            await run_in_threadpool(self._revoke, session)
        response = RedirectResponse("/", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure)
        return response

    async def static(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        suffix = name[name.rfind("."):] if "." in name else ""
        if suffix not in STATIC_TYPES or "/" in name or name.startswith(".") or name.endswith(".html"):
            return Response("Not found", 404)
        try:
            text = _asset(name)
        except (FileNotFoundError, IsADirectoryError):
            return Response("Not found", 404)
        return Response(text, media_type=STATIC_TYPES[suffix],
                        headers={**SECURITY_HEADERS, "cache-control": "no-cache"})

    # data endpoints -------------------------------------------------------------------
    def _caller(self, request: Request, operation: str) -> Session:
        session = self.session(request)
        if session is None:
            raise _Unauthenticated()
        instance_id = request.path_params.get("InstanceId")
        self.authorizer.check(session.access_key, REGION, "connect", operation,
                              {"InstanceId": instance_id} if instance_id else {})
        return session

    def _csrf(self, request: Request, session: Session) -> None:
        if not self.signer.check_csrf(session, request.headers.get("x-csrf-token")):
            raise _CsrfRefused()

    async def _answer(self, request: Request, operation: str, work: Callable[[Session], Any],
                      state_changing: bool = False) -> Response:
        try:
            session = self._caller(request, operation)
            if state_changing:
                self._csrf(request, session)
            result = await run_in_threadpool(work, session)
        except _Unauthenticated:
            return _error("UnauthenticatedException", "Sign in to the dashboard first.", 401)
        except _CsrfRefused:
            return _error("AccessDeniedException", "The X-CSRF-Token header is missing or wrong.", 403)
        except AccessDeniedException as exc:
            return _error(exc.code, exc.message, 403)
        except LivelensError as exc:
            return _error(exc.code, exc.message, 404 if "NotFound" in exc.code else 400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result, headers=SECURITY_HEADERS)

    async def instances(self, request: Request) -> Response:
        def work(session: Session) -> Any:
            visible = self.authorizer.visible(session.access_key)
            found = []
            with self.segments.center.storage.read() as tx:
                after = 0
                while True:
                    rows = tx.list_instances(after, 1000)
                    for seq, record in rows:
                        if visible(record["id"], record.get("owner")):
                            found.append({"Id": record["id"], "InstanceAlias": record.get("alias")})
                        after = seq
                    if len(rows) < 1000:
                        break
            return {"Instances": found}

        return await self._answer(request, "ListInstances", work)

    async def wall_stream(self, request: Request) -> Response:
        try:
            self._caller(request, "ListRealtimeContactAnalysisSegmentsV2")
            instance_id = str(request.path_params["InstanceId"])
            with self.segments.center.storage.read() as tx:
                self.segments.center.get_instance(tx, instance_id)
        except _Unauthenticated:
            return _error("UnauthenticatedException", "Sign in to the dashboard first.", 401)
        except LivelensError as exc:
            return _error(exc.code, exc.message, 403 if exc.code == "AccessDeniedException" else 404)
        return StreamingResponse(self.wall.events(instance_id), media_type="text/event-stream",
                                 headers={**SECURITY_HEADERS, "x-accel-buffering": "no"})

    async def contact(self, request: Request) -> Response:
        instance_id, contact_id = str(request.path_params["InstanceId"]), str(request.path_params["ContactId"])

        def work(session: Session) -> Any:
            center = self.segments.center
            with center.storage.read() as tx:
                contact = center.get_contact(tx, instance_id, contact_id)
                participants = tx.list_participants(contact.id)
            views = ["Redacted"] if contact.redacts else []
            if contact.keeps_original and contact.channel == "CHAT":
                views.append("Raw")
            return {
                "ContactId": contact.id,
                "Channel": contact.channel,
                "RedactionPolicy": contact.redaction_policy,
                "Views": views if contact.channel == "CHAT" else ["Redacted" if contact.redacts else "Raw"],
                "InitiationTimestamp": contact.initiation_timestamp,
                "DisconnectTimestamp": contact.disconnect_timestamp,
                "Status": contact.analysis_status,
                "Participants": [
                    {"Role": p["role"],
                     "DisplayName": (p.get("redacted_display_name") or p["display_name"]) if contact.redacts
                     else p["display_name"]}
                    for p in participants
                ],
            }

        return await self._answer(request, "DescribeContact", work)

    async def contact_stream(self, request: Request) -> Response:
        try:
            self._caller(request, "ListRealtimeContactAnalysisSegmentsV2")
        except _Unauthenticated:
            return _error("UnauthenticatedException", "Sign in to the dashboard first.", 401)
        except AccessDeniedException as exc:
            return _error(exc.code, exc.message, 403)
        return await self.stream.serve(request, str(request.path_params["InstanceId"]),
                                       str(request.path_params["ContactId"]), str(uuid.uuid4()))

    async def export(self, request: Request) -> Response:
        instance_id, contact_id = str(request.path_params["InstanceId"]), str(request.path_params["ContactId"])
        form = request.query_params.get("format", "json")
        view = request.query_params.get("view")

        def work(session: Session) -> Any:
            if form not in ("json", "csv"):
                raise InvalidRequestException("format must be json or csv.")
            contact = self.segments.center.describe_contact(instance_id, contact_id)
            turns = transcript_turns(self.segments, contact, view)
            name = f"contact-{contact.id}.{form}"
            disposition = {"content-disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS}
            if form == "json":
                body = {"ContactId": contact.id, "Channel": contact.channel, "Transcript": turns}
                return Response(json.dumps(body, indent=2, ensure_ascii=False), media_type="application/json",
                                headers=disposition)
            out = io.StringIO()
            columns = ["Id", "ParticipantRole", "DisplayName", "Time", "BeginOffsetMillis", "EndOffsetMillis",
                       "Sentiment", "Content"]
            writer = csv.DictWriter(out, columns, extrasaction="ignore")
            writer.writeheader()
            for turn in turns:
                writer.writerow({**turn, "Time": (turn.get("Time") or {}).get("AbsoluteTime", "")})
            return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition)

        return await self._answer(request, "ListRealtimeContactAnalysisSegmentsV2", work)

    async def history(self, request: Request) -> Response:
        instance_id = str(request.path_params["InstanceId"])
        query = request.query_params

        def work(session: Session) -> Any:
            return search_history(self.segments, self.search_book, instance_id, query)

        return await self._answer(request, "SearchContacts", work)

    async def list_rules(self, request: Request) -> Response:
        instance_id = str(request.path_params["InstanceId"])

        def work(session: Session) -> Any:
            center = self.segments.center
            with center.storage.read() as tx:
                center.get_instance(tx, instance_id)
                rules = [record for _, record in tx.list_rules(instance_id, 0, 10_000)]
            return {"Rules": [
                {"RuleId": r["RuleId"], "Name": r["Name"], "Function": r["Function"],
                 "PublishStatus": r.get("PublishStatus"),
                 "EventSource": (r.get("TriggerEventSource") or {}).get("EventSourceName"),
                 "Actions": [a.get("ActionType") for a in r.get("Actions") or []]}
                for r in rules
            ]}

        return await self._answer(request, "ListRules", work)

    async def test_rule(self, request: Request) -> Response:
        instance_id = str(request.path_params["InstanceId"])
        body = await request.body()

        def work(session: Session) -> Any:
            try:
                request_body = json.loads(body or b"{}")
            except ValueError:
                raise InvalidRequestException("The request body must be JSON.") from None
            if not isinstance(request_body, dict):
                raise InvalidRequestException("The request body must be a JSON object.")
            allowed = {k: request_body[k] for k in ("RuleId", "Function", "ContactId") if k in request_body}
            return self.rules.test(instance_id, allowed)

        return await self._answer(request, "TestRule", work, state_changing=True)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.router(scope, receive, send)


class _Unauthenticated(Exception):
    pass


class _CsrfRefused(Exception):
    pass


def _error(code: str, message: str, status: int) -> Response:
    return JSONResponse({"__type": code, "Message": message}, status, headers=SECURITY_HEADERS)
