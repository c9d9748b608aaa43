#!/usr/bin/env bash
# The wheel is the product: build the sdist and, from it, the wheel; install the wheel alone into a
# fresh venv (no editable install, no Makefile); then scripts/wheel_smoke.py serves and runs a chat and a
# voice contact to COMPLETED with sentiment, redaction and summary. Usage: scripts/wheel_smoke.sh [DIST_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/livelens-wheel-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DIST=${1:-$WORK/dist}

started=$(date +%s)
"$PYTHON" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/pip" install --quiet --disable-pip-version-check 'build>=1.2,<2'
# `python -m build` makes the sdist, then the wheel from the unpacked sdist: both must build.
"$WORK/build-venv/bin/python" -m build --outdir "$DIST" . > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
ls -l "$DIST"
wheel=$(ls "$DIST"/livelens-*.whl)
# Read the wheel's names whole (a `zipfile -l | grep -q` pipe can die of SIGPIPE under pipefail).
"$PYTHON" - "$wheel" <<'PY'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = {"livelens/analysis/data/minilm/tokenizer.json": "the MiniLM tokenizer",
          "livelens/analysis/data/minilm/LICENSE": "the model's licence",
          "livelens/analysis/data/minilm/activation_ranges.npz": "the MiniLM encoder's activation ranges",
          "livelens/demo/call.wav": "the demo call's audio",
          **{f"livelens/dashboard/static/{name}": f"the dashboard's {name}"
             for name in ("index.html", "signin.html", "app.js", "app.css")}}
missing = [what for name, what in wanted.items() if name not in names]
if missing:
    sys.exit("wheel smoke: FAILED: the wheel lacks " + " and ".join(missing))
PY

"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel"
echo "wheel smoke: built and installed $(basename "$wheel") in $(( $(date +%s) - started )) s"
# An empty cache home (wheel_smoke.py drops LIVELENS_* variables, as a new user has none): the first start
# builds the integer-arithmetic encoder into its default place, $XDG_CACHE_HOME/livelens.
XDG_CACHE_HOME="$WORK/cache" "$WORK/venv/bin/python" scripts/wheel_smoke.py "$WORK/run"
ls "$WORK"/cache/livelens/minilm-int8-*.onnx > /dev/null 2>&1 || { echo "wheel smoke: FAILED: no encoder was built"; exit 1; }
echo "wheel smoke: the encoder was built into \$XDG_CACHE_HOME/livelens on first use"
echo "wheel smoke: passed in $(( $(date +%s) - started )) s"
