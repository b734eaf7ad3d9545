#!/usr/bin/env bash
# Runs the official OpenAI, Anthropic and Google Gen AI Python SDKs against a relay started in demo mode.
# Usage: tests/sdk/run.sh [PYTEST ARGS] (builds sluice, installs the SDKs into .venv if missing;
#        e.g. -k test_media for the media tests alone)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import openai, anthropic, pytest, google.genai' 2>/dev/null; then
  "$PY" -m venv .venv
  PY=.venv/bin/python
  "$PY" -m pip install -q -r tests/sdk/requirements.txt
fi
cargo build -q --bin sluice
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
./target/debug/sluice serve --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
# Readiness: the public listener's health answers every caller with its status (200 when ok).
"$PY" - "$PORT" <<'PYEOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/monitor/health"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("relay did not become ready")
PYEOF
SLUICE_URL="http://127.0.0.1:$PORT" SLUICE_TOKEN=sk-sluice-demo "$PY" -m pytest -q tests/sdk/ "$@" || {
  echo "--- relay log (last 20 lines) ---"; tail -20 "$LOG" | cut -c1-400; exit 1; }
