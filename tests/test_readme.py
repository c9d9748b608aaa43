"""The README's five-minute tour, run as written against a real server, so it cannot rot.

The tour's code blocks hold ``$ command`` lines (``\\`` continues a line) followed
by the output a reader should see. ``make run`` is replaced by what it runs,
``livelens demo`` (on a free port, with the AWS config files in a temporary
folder); ``source .venv/bin/activate`` by putting this interpreter's scripts
on PATH. Every other command runs verbatim, in order, in one bash session
from the repository root, and its output must have the printed shape: JSON
with the same members and segment types, a table with the same title, text
with the same columns, the same first word otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MARK = "@@@livelens-tour-step"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def tour_steps(readme: str) -> list[Step]:
    section = readme.split("## Five-minute tour", 1)[1].split("\n## ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```\n(.*?)```", section, flags=re.S):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):
                    index += 1
                    command = command + "\n" + lines[index]
                steps.append(Step(command))
            elif steps:
                steps[-1].expected.append(line)
            index += 1
    return steps


def check_shape(step: Step, output: str) -> None:
    expected = [line for line in step.expected if line.strip() and line.strip() != "..."]
    if not expected:
        return
    first = expected[0]
    actual = [line for line in output.splitlines() if line.strip()]
    assert actual, f"{step.command!r} printed nothing; the README shows {first!r}"
    if first == "{" and step.expected[-1] == "}":
        document = json.loads(output)
        keys = set(re.findall(r'^ {4}"(\w+)"', "\n".join(step.expected), flags=re.M))
        assert keys - {"NextToken"} <= set(document), (step.command, keys, document.keys())
        kinds = set(re.findall(r'^ {8}"(\w+)": \{', "\n".join(step.expected), flags=re.M))
        assert kinds <= {kind for segment in document["Segments"] for kind in segment}, (step.command, kinds)
    elif first.startswith("{"):  # --follow: one JSON object per line
        for line in actual:
            assert set(json.loads(line)) == set(json.loads(first)), (step.command, line)
    elif first.startswith("---"):
        assert actual[0].startswith("---") and expected[1].split("|")[1].strip() in actual[1], (step.command, actual)
    elif "\t" in first:
        columns = first.count("\t")
        assert all(line.count("\t") == columns for line in actual), (step.command, actual)
        assert len(actual) >= len(expected), (step.command, actual)
    else:
        assert actual[0].split()[:2] == first.split()[:2], (step.command, actual[0], first)


def start_demo(directory: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [str(BIN / "livelens"), "demo", "--port", "0", "--db", str(directory / "livelens.db"), "--speed", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=directory,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("livelens demo exited:\n" + "".join(output))
        output.append(line)
        # The chat contact is announced (the two conversations start in parallel): the profile is written.
        if "watch --profile livelens" in line and any("(chat) as contact" in seen for seen in output):
            return process, output
    process.kill()
    raise AssertionError("livelens demo did not announce a contact:\n" + "".join(output))


def test_tour_runs_as_written(tmp_path: Path) -> None:
    steps = tour_steps((ROOT / "README.md").read_text())
    assert steps[0].command == "make run" and len(steps) >= 8, [s.command for s in steps]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LIVELENS_"))}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-creds"),
               AWS_PAGER="", HOME=str(tmp_path))
    demo, demo_output = start_demo(tmp_path, env)
    try:
        printed = "".join(demo_output)
        for pattern in (r"livelens \S+ listening on http://127\.0\.0\.1:\d+",
                        r"Wrote \[profile livelens\] \(endpoint_url = http://127\.0\.0\.1:\d+, region = us-east-1\)",
                        r"Supervisor dashboard: http://127\.0\.0\.1:\d+/\?instance=[0-9a-f-]{36}#/wall",
                        r"Sign in with access key ID LLIA\w+ and secret access key \S+",
                        r"Replaying '.+' \(chat\) as contact [0-9a-f-]{36}\."):
            assert re.search(pattern, printed), (pattern, printed)
        # The printed command works as printed in a new shell (nothing exported).
        pasted = next(line.strip() for line in demo_output if "--profile livelens connect list-" in line)
        result = subprocess.run(pasted, shell=True, capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=60)
        assert result.returncode == 0 and '"Channel": "CHAT"' in result.stdout, result.stderr

        # A clone's view from tmp_path: its examples/, and files the tour writes land here.
        (tmp_path / "examples").symlink_to(ROOT / "examples")
        script = [f"cd {tmp_path}", "set -o pipefail"]
        for number, step in enumerate(steps[1:], start=1):
            command = step.command.replace("source .venv/bin/activate", f'export PATH="{BIN}:$PATH"')
            script += [f"echo {MARK} {number}", command, f"echo {MARK}-status {number} $?"]
        run = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, env=env,
                             timeout=150)
        outputs = re.split(rf"^{MARK} \d+\n", run.stdout, flags=re.M)[1:]
        assert len(outputs) == len(steps) - 1, (run.stdout, run.stderr)
        for step, output in zip(steps[1:], outputs, strict=True):
            body, status = output.rsplit(f"{MARK}-status", 1)
            assert status.split()[1] == "0", f"{step.command!r} failed:\n{body}\n{run.stderr}"
            check_shape(step, body)
    finally:
        demo.terminate()
        demo.wait(timeout=30)


def test_make_run_installs_no_test_extras() -> None:
    """`make run` installs what running needs; the test extras are `make test`'s."""
    makefile = (ROOT / "Makefile").read_text()
    run_target = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    stamp = run_target.split()[0]
    recipe = makefile.split(f"\n{stamp}:", 1)[1].split("\n\n", 1)[0]
    assert "pip install" in recipe and "[test]" not in recipe and "--no-deps" not in recipe, recipe
