"""Screenshots of the dashboard for the README: runs `livelens demo` as `make run` does, signs in with the key it
prints, and saves docs/images/dashboard-wall.png and docs/images/dashboard-contact.png.

    .venv/bin/python scripts/dashboard_screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        demo = subprocess.Popen(
            [str(Path(sys.executable).parent / "livelens"), "demo", "--port", "0", "--db", f"{directory}/l.db",
             "--no-configure", "--speed", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert demo.stdout is not None
            printed = ""
            while "Sign in with" not in printed:
                line = demo.stdout.readline()
                if not line:
                    raise SystemExit("livelens demo exited:\n" + printed)
                printed += line
            url = re.search(r"Supervisor dashboard: (\S+)", printed).group(1)  # type: ignore[union-attr]
            key, secret = re.search(r"access key ID (\S+) and secret access key (\S+)", printed).groups()  # type: ignore[union-attr]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=options.chromium, args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 560})
                page.goto(url)
                page.get_by_label("Access key ID").fill(key)
                page.get_by_label("Secret access key").fill(secret)
                page.get_by_role("button", name="Sign in").click()
                page.goto(url)
                page.locator("#wall-rows tr").nth(1).wait_for(timeout=60_000)
                time.sleep(12)  # let the conversations run a while
                page.screenshot(path=str(out / "dashboard-wall.png"))
                page.locator("#wall-rows tr", has_text="CHAT").locator("a").first.click()
                page.locator("#transcript li").nth(3).wait_for(timeout=60_000)
                time.sleep(2)
                page.set_viewport_size({"width": 1280, "height": 720})
                page.screenshot(path=str(out / "dashboard-contact.png"))
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=30)
    for name in ("dashboard-wall.png", "dashboard-contact.png"):
        print(out / name, (out / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
