"""Server CPU with N idle segment streams open vs none, measured in the same run.

    .venv/bin/python bench/stream_idle_cpu.py [N]      # default 50
"""
import pathlib
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402
from harness import cpu_share

from tests.e2e.conftest import start_chat, start_server
from tests.e2e.test_stream import signed_headers, stream_path

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
server = start_server(pathlib.Path(tempfile.mkdtemp()) / "s", env={"LIVELENS_ANALYSIS": "sentiment"})
try:
    connect, participant = server.client("connect"), server.client("connectparticipant")
    instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                       OutboundCallsEnabled=True)["Id"]
    def cpu(seconds):
        return cpu_share(server.process.pid, seconds)
    time.sleep(3)
    idle = cpu(10)
    chats = [start_chat(connect, participant, instance) for _ in range(N)]
    stop = threading.Event()
    opened = []
    def reader(chat):
        url = f"{server.url}{stream_path(instance, chat.contact_id)}?OutputType=Raw"
        try:
            with httpx.stream("GET", url, headers=signed_headers(url), timeout=None) as r:
                opened.append(1)
                for _ in r.iter_lines():
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            return  # the server stopped
    threads = [threading.Thread(target=reader, args=(c,), daemon=True) for c in chats]
    for thread in threads:
        thread.start()
    while len(opened) < N:
        time.sleep(0.1)
    time.sleep(2)
    busy = cpu(10)
    print(f"server CPU, idle: {idle*100:.1f}% of a core; with {N} idle streams: {busy*100:.1f}% "
          f"(+{(busy-idle)*100/N:.2f}% per stream)")
finally:
    server.stop()
