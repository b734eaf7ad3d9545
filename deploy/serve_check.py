#!/usr/bin/env python3
"""deploy/sluice.toml served for real: the relay binary loads it and serves on loopback ports
against the local PostgreSQL and Redis, and the image's health check command is run against it.

  deploy/serve_check.py SLUICE_BINARY

PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); a database of
its own is created and dropped. Redis: REDIS_URL (default redis://127.0.0.1:6379/0); a key
prefix of its own, its keys deleted at the end. The copy of the config that is served differs
from deploy/sluice.toml in data_dir and redis_prefix only (checked).

Exit: 0 every step held; 1 a step failed; 3 PostgreSQL, Redis or psql is not there (deploy/check
skips, or fails under CI=true).
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from facts import HEALTH, check, failures

DEPLOY = os.path.dirname(os.path.abspath(__file__))


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=None, timeout=3):
    req = urllib.request.Request(url)
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post_json(url, body, token, timeout=5):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("authorization", f"Bearer {token}")
    req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    binary = sys.argv[1]
    pg_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    pg, rd = urllib.parse.urlparse(pg_url), urllib.parse.urlparse(redis_url)
    missing = []
    if not reachable(pg.hostname or "127.0.0.1", pg.port or 5432):
        missing.append(f"no PostgreSQL at {pg.hostname}:{pg.port or 5432}")
    if not reachable(rd.hostname or "127.0.0.1", rd.port or 6379):
        missing.append(f"no Redis at {rd.hostname}:{rd.port or 6379}")
    for tool in ("psql", "redis-cli"):
        if shutil.which(tool) is None:
            missing.append(f"no {tool}")
    if missing:
        print("  cannot serve: " + "; ".join(missing) + " (set DATABASE_URL / REDIS_URL)")
        return 3

    text = open(os.path.join(DEPLOY, "sluice.toml"), encoding="utf-8").read()
    grace = int(re.search(r'^shutdown_grace = "(\d+)s"', text, re.M).group(1))
    tag = f"sluice_deploy_check_{os.getpid()}_{secrets.token_hex(3)}"
    work = tempfile.mkdtemp(prefix="sluice-deploy-")
    served = text.replace('data_dir = "/var/lib/sluice"', f'data_dir = "{work}/data"')
    served = served.replace('redis_prefix = "sluice:"', f'redis_prefix = "{tag}:"')
    diff = [(a, b) for a, b in zip(text.splitlines(), served.splitlines()) if a != b]
    check(len(diff) == 2, "the served copy differs from deploy/sluice.toml in data_dir and redis_prefix only")
    config = os.path.join(work, "sluice.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(served)

    db_url = pg._replace(path="/" + tag).geturl()
    subprocess.run(["psql", "-q", pg_url, "-c", f"CREATE DATABASE {tag}"], check=True)
    admin_token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        SLUICE_DATABASE_URL=db_url,
        SLUICE_REDIS_URL=redis_url,
        SLUICE_ADMIN_TOKEN=admin_token,
        SLUICE_SECRET_KEY=secrets.token_hex(32),
        OPENAI_API_KEY="sk-deploy-check-placeholder",
        SLUICE_LOG_FORMAT="json",
    )
    env.pop("SLUICE_CONFIG", None)
    relay = None
    log_path = os.path.join(work, "relay.log")
    try:
        out = subprocess.run([binary, "check-config", config], env=env, capture_output=True, text=True)
        check(out.returncode == 0, f"sluice check-config: {out.stdout.strip() or out.stderr.strip()}")
        unset = {k: v for k, v in env.items() if k != "SLUICE_ADMIN_TOKEN"}
        out = subprocess.run([binary, "check-config", config], env=unset, capture_output=True, text=True)
        check(out.returncode != 0 and "SLUICE_ADMIN_TOKEN" in out.stderr,
              "sluice check-config refuses the file with SLUICE_ADMIN_TOKEN unset, naming it")

        public, admin = free_port(), free_port()
        log = open(log_path, "w", encoding="utf-8")
        relay = subprocess.Popen(
            [binary, "serve", "--config", config,
             "--listen", f"127.0.0.1:{public}", "--admin-listen", f"127.0.0.1:{admin}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base, admin_base = f"http://127.0.0.1:{public}", f"http://127.0.0.1:{admin}"
        deadline, status, body = time.monotonic() + 60, None, b""
        while time.monotonic() < deadline and relay.poll() is None:
            try:
                status, body = get(base + HEALTH, timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if not check(status == 200, f"serves: public {HEALTH} answers 200 (store opened, migrations run)"):
            return 1
        check(json.loads(body) == {"status": "ok"},
              f"public health without the admin token is the status only ({body.decode()})")
        status, body = get(admin_base + HEALTH, token=admin_token)
        full = json.loads(body) if status == 200 else {}
        store = full.get("store", {})
        check(status == 200 and store.get("status") == "ok",
              f"admin health with the token: full view, store {store.get('status')}"
              + (f", cluster {json.dumps(full['cluster'])}" if "cluster" in full else ""))
        status, _ = get(base + "/api/tokens", token=admin_token)
        check(status == 404, f"the public listener does not serve /api/* (admin_listen is set): {status}")
        status, body = post_json(admin_base + "/api/tokens", {"name": "deploy-check", "rpm": 60}, admin_token)
        key = json.loads(body).get("key", "") if status == 201 else ""
        check(status == 201 and key.startswith("sk-sluice-"), f"POST /api/tokens on the admin listener: {status}")
        # A model no channel serves: the key is authenticated through the store (401 if not),
        # then refused for the model, with no upstream call.
        status, body = post_json(base + "/v1/chat/completions",
                                 {"model": "deploy-check-no-such-model",
                                  "messages": [{"role": "user", "content": "hi"}]}, key)
        code = (json.loads(body).get("error") or {}).get("code") if body.startswith(b"{") else None
        check(status == 404 and code == "model_not_found",
              f"that token is accepted (PostgreSQL-backed), an unserved model refused: {status} {code}")
        status, _ = post_json(base + "/v1/chat/completions",
                              {"model": "deploy-check-no-such-model", "messages": []},
                              "sk-sluice-" + "x" * 40)
        check(status == 401, f"an unknown key is refused: {status}")

        df = open(os.path.join(DEPLOY, "Dockerfile"), encoding="utf-8").read()
        cmd = json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", df, re.M | re.S).group(1))
        cmd = [c.replace("127.0.0.1:8080", f"127.0.0.1:{public}") for c in cmd]
        # The container's environment: SLUICE_ADMIN_TOKEN set, so the monitor gets the full view.
        hc_env = dict(env, PATH=os.path.dirname(os.path.abspath(binary)) + ":" + env["PATH"])
        rc = subprocess.run(cmd, env=hc_env, timeout=10).returncode
        check(rc == 0, f"the Dockerfile's HEALTHCHECK command, run against it: exit {rc} (healthy)")

        # A request in flight holds the drain open: its body promised and not yet sent.
        held = socket.create_connection(("127.0.0.1", public), timeout=5)
        held.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                     b"authorization: Bearer " + key.encode() + b"\r\n"
                     b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{")
        time.sleep(0.3)
        t0 = time.monotonic()
        relay.send_signal(signal.SIGTERM)
        until, status, body = time.monotonic() + 5, None, b""
        while time.monotonic() < until:
            status, body = get(admin_base + HEALTH, token=admin_token)
            if status == 503:
                break
            time.sleep(0.1)
        verdict = json.loads(body).get("status") if body.startswith(b"{") else None
        check(status == 503 and verdict == "draining" and relay.poll() is None,
              f"SIGTERM with a request in flight: the relay stays up, admin health {status} {verdict}")
        rc = subprocess.run(cmd, env=hc_env, timeout=10, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        check(rc == 1, f"the HEALTHCHECK command while draining: exit {rc} (unhealthy)")
        held.close()
        try:
            rc = relay.wait(timeout=2 * grace + 6)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        logged = open(log_path, encoding="utf-8").read()
        check(rc == 0 and "draining" in logged and "sluice stopped" in logged,
              f"the request gone, the relay stopped: exit {rc} {took:.1f}s after SIGTERM (bound {2 * grace + 1}s)")
        rc = subprocess.run(cmd, env=hc_env, timeout=10, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        check(rc == 1, f"the HEALTHCHECK command with the relay stopped: exit {rc} (unhealthy)")
    finally:
        if relay is not None and relay.poll() is None:
            relay.kill()
            relay.wait()
        if failures and os.path.exists(log_path):
            print("  the relay's log:")
            print(open(log_path, encoding="utf-8").read()[-4000:])
        subprocess.run(["psql", "-q", pg_url, "-c", f"DROP DATABASE IF EXISTS {tag} WITH (FORCE)"])
        host, port = rd.hostname or "127.0.0.1", str(rd.port or 6379)
        keys = subprocess.run(["redis-cli", "-h", host, "-p", port, "--scan", "--pattern", f"{tag}:*"],
                              capture_output=True, text=True).stdout.split()
        if keys:
            subprocess.run(["redis-cli", "-h", host, "-p", port, "del", *keys], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
