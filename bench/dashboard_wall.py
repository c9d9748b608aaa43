"""The live wall with N live chats (default 1,000), in headless Chromium, measured in one run.

    .venv/bin/python bench/dashboard_wall.py [N]

Prints: the server's CPU with no dashboard open vs one wall open (the wall's database reads, side by side);
the time from opening the wall to all N rows rendered; the time from a SendMessage to that contact's row
showing the new turn (with N rows on the page).
"""
import pathlib
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402
from harness import cpu_share  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import start_chat, start_server  # noqa: E402
from tests.e2e.test_dashboard import ARGS, CHROMIUM, sign_in  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
server = start_server(pathlib.Path(tempfile.mkdtemp()) / "s", env={"LIVELENS_ANALYSIS": "sentiment"})
try:
    connect, participant = server.client("connect"), server.client("connectparticipant")
    instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                       OutboundCallsEnabled=True)["Id"]

    def cpu(seconds: float) -> float:
        return cpu_share(server.process.pid, seconds)

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        chats = list(pool.map(lambda _: start_chat(connect, participant, instance), range(N)))
        list(pool.map(lambda c: participant.send_message(ConnectionToken=c.customer, ContentType="text/plain",
                                                          Content="Hello, my order is late."), chats))
    print(f"{N} live chats started in {time.monotonic() - started:.1f} s")

    def backlog() -> int:
        return int(httpx.get(f"{server.url}/livelens/v1/health", timeout=10).json()["analysis"]["pending_items"])

    while backlog():  # measure an idle server: every turn analysed
        time.sleep(0.5)
    time.sleep(2)
    idle = cpu(10)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, server)
        t0 = time.monotonic()
        page.goto(f"{server.url}/?instance={instance}#/wall")
        while page.locator("#wall-rows tr").count() < N:
            time.sleep(0.05)
        first_render = time.monotonic() - t0
        watched = cpu(10)
        delays = []
        for i, chat in enumerate(chats[:10]):
            text = f"Update number {i} for the wall"
            t0 = time.monotonic()
            participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content=text)
            page.locator(f'tr[data-contact-id="{chat.contact_id}"]', has_text=text).wait_for(timeout=30_000)
            delays.append(time.monotonic() - t0)
        browser.close()
    print(f"server CPU, {N} live chats: no dashboard {idle:.1%} of a core, one wall open {watched:.1%} "
          f"(extra {watched - idle:+.1%})")
    print(f"wall of {N} rows rendered {first_render:.2f} s after opening")
    print(f"SendMessage -> row updated: median {statistics.median(delays):.2f} s, max {max(delays):.2f} s "
          f"(wall interval 0.5 s + analysis)")
finally:
    server.stop()
