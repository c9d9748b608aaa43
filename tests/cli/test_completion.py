"""Shell completion scripts for bash and zsh, and what they complete."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from livelens.cli.completion import complete
from tests.cli.conftest import Run


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_scripts_are_valid(livelens: Run, shell: str) -> None:
    result = livelens("completion", shell)
    assert result.returncode == 0 and "livelens completion --complete" in result.stdout
    if shutil.which(shell):
        check = subprocess.run([shell, "-n"], input=result.stdout, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_bash_completes_through_the_script(livelens: Run) -> None:
    if not shutil.which("bash"):
        pytest.skip("no bash")
    script = livelens("completion", "bash").stdout
    probe = script + ('COMP_LINE="livelens connect-contact-lens list-realtime-contact-analysis-segments --fo"; '
                      'COMP_POINT=${#COMP_LINE}; _livelens_complete; printf "%s\\n" "${COMPREPLY[@]}"')
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env={**os.environ, "PATH": path})
    assert "--follow" in result.stdout.split()


def test_candidates() -> None:
    assert {"connect", "connect-contact-lens", "watch", "replay", "completion"} <= set(complete("livelens "))
    assert complete("livelens connect-c") == ["connect-contact-lens"]
    assert "list-realtime-contact-analysis-segments-v2" in complete("livelens connect list-realtime")
    options = complete("livelens connect list-realtime-contact-analysis-segments-v2 --")
    assert {"--instance-id", "--output-type", "--follow", "--max-items", "--starting-token",
            "--cli-input-yaml", "--no-paginate", "--output"} <= set(options)
    assert complete("livelens replay --sp") == ["--speed"]
    assert "--contact-id" in complete("livelens watch --con")
