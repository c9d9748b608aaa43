"""Profile a livelens server under one benchmark's load with py-spy (all threads, no instrumentation).

    python bench/profile_server.py list      # V2 pages of 100 (benchmark 2's request)
    python bench/profile_server.py describe  # DescribeInstance (benchmark 3's request)
    python bench/profile_server.py ingest    # 50 live chats sending a turn every 2 s (benchmark 1)

Prints the functions with the most samples, inclusive and exclusive, and
keeps the collapsed stacks (``--keep FILE``) for a flame graph. Needs py-spy
(in the ``bench`` extra) and permission to ptrace the server (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BIN, call, load, raw_request, start_livelens, workdir  # noqa: E402
from seed import seed  # noqa: E402


def summarize(collapsed: Path, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += samples
        exclusive[frames[-1]] += samples
    out = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("exclusive", exclusive)):
        out.append(f"\n-- top {top} {title} --")
        for frame, samples in counter.most_common(top):
            out.append(f"{samples / max(total, 1):6.1%}  {frame}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["list", "describe", "ingest"])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--keep", help="write the collapsed stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    with workdir("profile") as directory:
        if args.scenario == "list":
            seeded = seed(directory / "livelens.db", segments=400)
            server = start_livelens(directory, db=seeded.db)
            path = f"/contact/list-real-time-analysis-segments-v2/{seeded.instance_id}/{seeded.contact_id}"
            body = json.dumps({"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": 100,
                               "NextToken": seeded.next_token(100)}).encode()
            requests = [raw_request("POST", server.host, path, body)]
        else:
            server = start_livelens(directory)
        try:
            server.wait_idle()
            collapsed = directory / "profile.txt"
            spy = subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--duration", str(int(args.seconds)),
                                    "--rate", "200", "--format", "raw", "--output", str(collapsed), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if args.scenario == "ingest":
                import latency

                async def drive() -> None:
                    await latency._measure(server, 50, args.seconds, 2.0)

                threading.Thread(target=lambda: asyncio.run(drive()), daemon=True).start()
            else:
                if args.scenario == "describe":
                    create = {"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": "profile",
                              "InboundCallsEnabled": True, "OutboundCallsEnabled": True}
                    instance_id = call(server.url, "PUT", "/instance", create)["Id"]
                    requests = [raw_request("GET", server.host, f"/instance/{instance_id}")]
                result = load(server.url, requests, concurrency=8, processes=2, duration=args.seconds, warmup=0.2)
                print(f"{result.requests_per_second:.0f} req/s during the profile", file=sys.stderr)
            _, err = spy.communicate(timeout=args.seconds + 60)
            if spy.returncode != 0:
                print(err, file=sys.stderr)
                return 1
            print(summarize(collapsed, args.top))
            if args.keep:
                shutil.copy(collapsed, args.keep)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
