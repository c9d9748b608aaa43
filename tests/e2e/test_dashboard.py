"""The supervisor dashboard in a real browser: Debian's /usr/bin/chromium driven by Playwright.

The shared server (two analysis worker processes) serves the dashboard; contacts are fed with boto3
while a page watches. The browser is launched once per module.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    signed_request,
    start_chat,
    unique,
    utterances_path,
)
from tests.e2e.test_rules import CATEGORY, CHAT, VOICE, create_rule

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("LIVELENS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EMAIL = "dana.whitfield@example.org"
TURN_TIMEOUT_MS = 1000  # each turn appears within 1 s of being sent


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport={"width": 1280, "height": 800})
    yield made
    made.close()


def sign_in(page: Any, server: Server, secret: str = SECRET_KEY) -> None:
    page.goto(server.url + "/")
    page.get_by_label("Access key ID").fill(ACCESS_KEY)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def new_instance(connect: Any, policy: str = "RedactedAndOriginal") -> str:
    return str(connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"dash-{unique()}",
                                       InboundCallsEnabled=True, OutboundCallsEnabled=True,
                                       Tags={"livelens:redaction": policy})["Id"])


def open_instance(page: Any, server: Server, instance_id: str, hash_: str) -> None:
    page.goto(f"{server.url}/?instance={instance_id}{hash_}")
    page.wait_for_function("id => document.getElementById('instance').value === id", arg=instance_id)


def session_cookie(context: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


def test_sign_in_wrong_session_and_sign_out(server: Server, context: Any) -> None:
    page = context.new_page()
    sign_in(page, server, secret="wrong-secret")
    assert page.get_by_role("alert").inner_text().startswith("Unknown access key ID or wrong secret")
    assert "livelens_session" not in session_cookie(context)

    sign_in(page, server)
    page.get_by_role("heading", name="Live wall").wait_for()
    cookie = next(c for c in context.cookies() if c["name"] == "livelens_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 3600
    assert page.evaluate("document.cookie").find("livelens_session") == -1  # HttpOnly: scripts cannot read it

    # A tampered session cookie gets the sign-in page, and the data endpoints answer 401.
    payload, mac = cookie["value"].split(".")
    context.add_cookies([{**cookie, "value": payload + "." + mac[::-1]}])
    page.goto(server.url + "/")
    page.get_by_label("Access key ID").wait_for()
    answer = page.request.get(server.url + "/dashboard/api/instances")
    assert answer.status == 401 and answer.json()["__type"] == "UnauthenticatedException"

    context.add_cookies([cookie])
    page.goto(server.url + "/")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Access key ID").wait_for()
    assert page.request.get(server.url + "/dashboard/api/instances").status == 401


def test_csrf_is_required(server: Server, connect: Any) -> None:
    instance = new_instance(connect)
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        client.get("/")  # the sign-in nonce cookie
        refused = client.post("/dashboard/sign-in", data={"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})
        assert refused.status_code == 403 and "livelens_session" not in refused.cookies
        token = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
        signed = client.post("/dashboard/sign-in",
                             data={"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "csrf": token})
        assert signed.status_code == 303 and "livelens_session" in signed.cookies
        page = client.get("/").text
        csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
        rule = create_rule(connect, instance, "x", 'customer said "refund"', trigger=CHAT, actions=CATEGORY)
        path = f"/dashboard/api/instances/{instance}/rules/test"
        body = {"RuleId": rule, "Function": 'customer said "refund"'}
        assert client.post(path, json=body).status_code == 403
        assert client.post(path, json=body, headers={"x-csrf-token": "forged"}).status_code == 403
        denied = client.post("/dashboard/sign-out", data={})
        assert denied.status_code == 403
        assert client.get("/dashboard/api/instances").status_code == 200  # still signed in
        assert client.post("/dashboard/sign-out", data={"csrf": csrf}).status_code == 303


def send(participant: Any, token: str, text: str) -> None:
    participant.send_message(ConnectionToken=token, ContentType="text/plain", Content=text)


CONVERSATION = [
    ("customer", "Hi, my internet keeps dropping every evening."),
    ("agent", "I'm sorry to hear that. Let me check your line."),
    ("customer", "This is terrible, I want a refund for this month."),
    ("agent", "I understand. I have applied a credit to your account."),
    ("customer", "Thank you, that is great, I really appreciate the help."),
]


def test_live_wall_and_contact_view(server: Server, connect: Any, participant: Any, context: Any) -> None:
    instance = new_instance(connect)
    create_rule(connect, instance, "wants-refund", 'customer said "refund"', trigger=CHAT, actions=CATEGORY)
    page = context.new_page()
    sign_in(page, server)
    chat = start_chat(connect, participant, instance)
    open_instance(page, server, instance, "#/wall")
    row = page.locator(f'tr[data-contact-id="{chat.contact_id}"]')
    row.wait_for(timeout=5000)

    wall = context.new_page()  # a second supervisor keeps watching the wall
    open_instance(wall, server, instance, "#/wall")
    wall_row = wall.locator(f'tr[data-contact-id="{chat.contact_id}"]')
    wall_row.wait_for(timeout=5000)

    page.goto(f"{server.url}/?instance={instance}#/contact/{chat.contact_id}")
    page.locator("#contact-state", has_text="live").wait_for()
    # The first turn of a fresh server waits for the workers' models to load; the rest are timed.
    send(participant, chat.customer, "Hello there.")
    page.locator("#transcript li").first.wait_for(timeout=60000)
    for i, (who, text) in enumerate(CONVERSATION, 2):
        send(participant, chat.customer if who == "customer" else chat.agent, text)
        page.locator("#transcript li").nth(i - 1).wait_for(timeout=TURN_TIMEOUT_MS)
        assert page.locator("#transcript li").count() == i
    assert "refund" in page.locator("#transcript li").nth(3).inner_text()

    # The rule's alert: the matched word highlighted in the turn, the category in the side panel, the chart.
    page.locator("#transcript mark.match", has_text="refund").wait_for(timeout=5000)
    page.locator("#alerts .pill", has_text="wants-refund").wait_for()
    customer_points = page.locator('#chart polyline[data-role="CUSTOMER"]').get_attribute("points")
    assert customer_points is not None and len(customer_points.split()) == 4
    assert page.locator('#chart polyline[data-role="AGENT"]').count() == 1

    wall_row.locator("button.alerts-button", has_text="1").wait_for(timeout=5000)
    assert "refund" in wall_row.locator("td").nth(7).inner_text() or "wants-refund" in wall_row.inner_text()
    wall_row.locator("button.alerts-button").focus()
    wall.keyboard.press("Enter")  # keyboard first: the popover opens and takes the focus
    wall.locator(".popover mark", has_text="refund").wait_for(timeout=2000)
    wall.keyboard.press("Escape")
    assert wall.locator(".popover").count() == 0
    wall_row.locator("button.alerts-button").click()
    wall.locator(".popover mark", has_text="refund").wait_for(timeout=2000)
    wall_row.locator("td", has_text="POSITIVE ▲ up").wait_for(timeout=5000)  # the customer's mood turned

    # Exports of the transcript (the page's session).
    base = f"{server.url}/dashboard/api/instances/{instance}/contacts/{chat.contact_id}/export"
    exported = page.request.get(base + "?format=json&view=Redacted").json()
    assert [t["Content"] for t in exported["Transcript"]][1:] == [text for _, text in CONVERSATION]
    csv_text = page.request.get(base + "?format=csv&view=Raw").text()
    assert csv_text.splitlines()[0].startswith("Id,ParticipantRole") and "refund" in csv_text

    # Summary on end; history finds it; the rules page dry-runs the rule against it.
    participant.disconnect_participant(ConnectionToken=chat.customer)
    page.locator("#summary-text").wait_for(timeout=20000)
    page.locator("#contact-state", has_text="analysis COMPLETED").wait_for(timeout=20000)
    wall.locator(f'tr.ended[data-contact-id="{chat.contact_id}"]', has_text="(ended)").wait_for(timeout=5000)
    page.goto(f"{server.url}/?instance={instance}#/history")
    page.get_by_label("Text").fill("refund")
    page.get_by_label("Category").fill("wants-refund")
    page.get_by_role("button", name="Search").click()
    page.locator(f'#history-rows a[href="#/contact/{chat.contact_id}"]').wait_for(timeout=10000)
    page.get_by_label("Text").fill("dinosaur")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("0 ended contacts found").wait_for()

    page.goto(f"{server.url}/?instance={instance}#/rules")
    page.get_by_role("heading", name="wants-refund").wait_for()
    page.get_by_label("Dry run on contact").fill(chat.contact_id)
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("✔ MATCHED on turn 4 of 6").wait_for(timeout=10000)
    assert page.locator(".report mark.match", has_text="refund").count() >= 1


def read_stream(url: str, cookies: dict[str, str], until: str = "event: end") -> str:
    text = ""
    with httpx.stream("GET", url, cookies=cookies, timeout=30) as response:
        assert response.status_code == 200
        for chunk in response.iter_text():
            text += chunk
            if until in text:
                break
    return text


def test_redacted_only_never_shows_the_original(server: Server, connect: Any, participant: Any,
                                                context: Any) -> None:
    instance = new_instance(connect, "RedactedOnly")
    create_rule(connect, instance, "email", 'customer said "email"', trigger=CHAT, actions=CATEGORY)
    page = context.new_page()
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if "/dashboard/api/" in r.url
            and "/stream" not in r.url and "/wall" not in r.url else None)
    sign_in(page, server)
    chat = start_chat(connect, participant, instance)
    open_instance(page, server, instance, f"#/contact/{chat.contact_id}")
    send(participant, chat.customer, f"My email is {EMAIL}, please email me the bill.")
    page.locator("#transcript .pii", has_text="[").first.wait_for(timeout=5000)
    assert page.locator("#view-choice input").count() == 1  # no Raw view under RedactedOnly
    page.locator("#alerts .pill", has_text="email").wait_for(timeout=5000)
    open_instance(page, server, instance, "#/wall")
    page.locator(f'tr[data-contact-id="{chat.contact_id}"] button.alerts-button', has_text="1").wait_for(timeout=5000)
    page.locator(f'tr[data-contact-id="{chat.contact_id}"] button.alerts-button').click()
    html = page.content()
    assert EMAIL not in html and "dana" not in html.lower()

    cookies = session_cookie(context)
    base = f"{server.url}/dashboard/api/instances/{instance}"
    assert page.request.get(f"{base}/contacts/{chat.contact_id}/stream?OutputType=Raw").status == 404
    participant.disconnect_participant(ConnectionToken=chat.customer)
    streamed = read_stream(f"{base}/contacts/{chat.contact_id}/stream?OutputType=Redacted", cookies)
    wall_events = read_stream(f"{base}/wall", cookies, until="event: snapshot")
    exported = page.request.get(f"{base}/contacts/{chat.contact_id}/export?format=json").text()
    for text in [streamed, wall_events, exported, *bodies]:
        assert EMAIL not in text and "dana.whitfield" not in text.lower()
    assert "[EMAIL]" in streamed or "[PII]" in streamed


class TcpProxy:
    """A TCP relay in front of the server whose connections the test can cut: a real network drop."""

    def __init__(self, target: str) -> None:
        address = urlsplit(target)
        self.upstream = (address.hostname, address.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.online = True
        self.sockets: list[socket.socket] = []
        self.sent: list[bytes] = []  # what the browser sent, per connection (to read request headers)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.online:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            self.sent.append(b"")
            for source, sink, index in ((client, upstream, len(self.sent) - 1), (upstream, client, None)):
                threading.Thread(target=self._pump, args=(source, sink, index), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, index: int | None) -> None:
        try:
            while data := source.recv(65536):
                if index is not None:
                    self.sent[index] += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        """Go offline: cut every open connection and refuse new ones."""
        self.online = False
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def close(self) -> None:
        self.drop()
        self.listener.close()


def test_contact_stream_resumes_after_a_network_drop(server: Server, connect: Any, participant: Any,
                                                     context: Any) -> None:
    proxy = TcpProxy(server.url)
    try:
        instance = new_instance(connect)
        page = context.new_page()
        sign_in(page, Server(proxy.url, server.db, server.process))
        chat = start_chat(connect, participant, instance)
        page.goto(f"{proxy.url}/?instance={instance}#/contact/{chat.contact_id}")
        send(participant, chat.customer, "First message before the drop.")
        page.locator("#transcript li").first.wait_for(timeout=30000)
        proxy.drop()
        page.locator("#contact-state", has_text="reconnecting").wait_for(timeout=10000)
        send(participant, chat.agent, "Second message while the supervisor was offline.")
        send(participant, chat.customer, "Third message while the supervisor was offline.")
        time.sleep(1.5)  # EventSource retries (and is refused) meanwhile
        proxy.online = True
        page.locator("#transcript li").nth(2).wait_for(timeout=10000)
        page.locator("#contact-state", has_text="live").wait_for(timeout=10000)
        texts = page.locator("#transcript li .content").all_inner_texts()
        assert texts == ["First message before the drop.", "Second message while the supervisor was offline.",
                         "Third message while the supervisor was offline."]
        ids = page.eval_on_selector_all("#transcript li", "items => items.map(i => i.dataset.turnId)")
        assert len(set(ids)) == 3
        # The browser resumed from the last segment it had (Last-Event-ID), not from the start.
        streams = [request.lower() for sent in proxy.sent for request in sent.split(b"\r\n\r\n")
                   if b"/stream" in request.split(b"\r\n")[0]]
        assert len(streams) >= 2 and b"last-event-id" not in streams[0] and b"last-event-id: " in streams[-1]
    finally:
        proxy.close()


def test_a_voice_contact(server: Server, connect: Any, context: Any) -> None:
    instance = new_instance(connect)
    create_rule(connect, instance, "outage", 'customer said "not working"', trigger=VOICE, actions=CATEGORY)
    contact_id = connect.create_contact(InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    page = context.new_page()
    sign_in(page, server)
    open_instance(page, server, instance, f"#/contact/{contact_id}")
    page.locator("#contact-state", has_text="live").wait_for(timeout=10000)
    turns = [("AGENT", "Thank you for calling, how can I help?", 0, 2000),
             ("CUSTOMER", f"My internet is not working and my email is {EMAIL}.", 2500, 6000)]
    for role, content, begin, end in turns:
        answer = signed_request(server, "POST", utterances_path(instance, contact_id),
                                {"ParticipantId": role, "ParticipantRole": role, "Content": content,
                                 "BeginOffsetMillis": begin, "EndOffsetMillis": end})
        assert answer.status_code == 200, answer.text
    page.locator("#transcript li").nth(1).wait_for(timeout=30000)
    assert page.locator("#view-choice input").count() == 1  # V1 has one output: redacted when the policy redacts
    page.locator("#transcript li").nth(1).locator(".pii").first.wait_for()
    page.locator("#transcript mark.match", has_text="not working").wait_for(timeout=10000)
    assert EMAIL not in page.content()
    open_instance(page, server, instance, "#/wall")
    row = page.locator(f'tr[data-contact-id="{contact_id}"]')
    row.locator("button.alerts-button", has_text="1").wait_for(timeout=5000)
    assert "VOICE" in row.inner_text() and "outage" in row.inner_text()
