#!/usr/bin/env bash
# Runs the official SDKs, unchanged, against the simulator directly: OpenAI and Anthropic
# (smoke.py) and the Google Gen AI SDK on the Gemini API and Vertex AI (smoke_genai.py).
# Usage: simulator/tests/sdk/run.sh   (builds sluice-sim; installs the SDKs from
# tests/sdk/requirements.txt into .venv unless $PYTHON already has them). About 10 s once
# built and installed.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import openai, anthropic, google.genai' 2>/dev/null; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  PY=.venv/bin/python
  "$PY" -c 'import openai, anthropic, google.genai' 2>/dev/null ||
    "$PY" -m pip install -q -r tests/sdk/requirements.txt
fi
cargo build -q -p sluice-sim
KEY_FILE=fixtures/google/test-only-service-account.json
EMAIL=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_email"])' "$KEY_FILE")
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
./target/debug/sluice-sim --listen "127.0.0.1:$PORT" --seed 1 \
  --google-service-account "$EMAIL=fixtures/google/test-only-service-account.pub.pem" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
"$PY" - "$PORT" <<'PYEOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/__sim/stats"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.05)
sys.exit("simulator did not become ready")
PYEOF
for smoke in smoke.py smoke_genai.py; do
  "$PY" "simulator/tests/sdk/$smoke" "http://127.0.0.1:$PORT" || {
    echo "--- simulator log (last 20 lines) ---"; tail -20 "$LOG"; exit 1; }
done
