#!/usr/bin/env python3
"""What no linter here sees: that the deployment files agree with each other and with the
relay. Reads the files themselves (PyYAML, tomllib), needs no tool beyond python3.

  deploy/consistency.py [DEPLOY_DIR]     (default: the directory of this file)

Prints one line per fact checked and exits 1 if any fails. DEPLOY_DIR lets deploy/check run it
on a planted mistake too (a check that cannot fail checks nothing).
"""

import os
import re
import sys
import tomllib

import yaml
from facts import HEALTH, check, failures


def seconds(text):
    """`50s`, `1m`, `1m30s`, `20s` or a bare number of seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    total, rest = 0, text
    for n, unit in re.findall(r"(\d+)\s*(ms|s|m|h)", text):
        total += int(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
        rest = rest.replace(n + unit, "", 1)
    if rest.strip():
        raise ValueError(f"not a duration: {text}")
    return total


def refs(value):
    """The NAME of every `${NAME}` value in a parsed config."""
    if isinstance(value, dict):
        for v in value.values():
            yield from refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from refs(v)
    elif isinstance(value, str):
        m = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}", value)
        if m:
            yield m.group(1)


def port(addr):
    return int(addr.rsplit(":", 1)[1])


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    read = lambda *p: open(os.path.join(d, *p), encoding="utf-8").read()  # noqa: E731

    # --- the relay config every deployment uses
    toml_text = read("sluice.toml")
    cfg = tomllib.loads(toml_text)
    # The "${VAR}" values the loader expands, and the channel-key encryption key it reads.
    env_vars = sorted(set(refs(cfg)) | {"SLUICE_SECRET_KEY"})
    grace = seconds(cfg.get("shutdown_grace", "30s"))
    # SIGTERM: requests get `grace`, the admin listener 1 s to close, background jobs `grace`.
    stop_bound = 2 * grace + 1
    public, admin = port(cfg["listen"]), port(cfg["admin_listen"])
    print(f"sluice.toml: listen :{public}, admin :{admin}, shutdown_grace {grace}s "
          f"(a stop takes up to {stop_bound}s), secrets from {', '.join(env_vars)}")
    check(cfg["listen"].startswith("0.0.0.0:"), "sluice.toml listens on all addresses (containers)")
    check("admin_token" in cfg and "admin_listen" in cfg,
          "sluice.toml sets admin_listen and admin_token (admin surfaces off the public port)")
    store = cfg.get("store", {})
    check(store.get("url", "").startswith("${") and store.get("redis_url", "").startswith("${"),
          "store.url and store.redis_url come from the environment")

    # --- Dockerfile
    df = read("Dockerfile")
    froms = re.findall(r"^FROM\s+(\S+)", df, re.M)
    users = re.findall(r"^USER\s+(\S+)", df, re.M)
    uid = users[-1].split(":")[0] if users else "root"
    check(len(froms) >= 2, f"Dockerfile is multi-stage ({len(froms)} FROM)")
    check(uid.isdigit() and int(uid) != 0,
          f"Dockerfile's final USER is numeric and not root ({uid}: runAsNonRoot can check it)")
    check("--no-default-features" in df and "--locked" in df,
          "Dockerfile builds with --locked --no-default-features (no simulator linked)")
    hc = re.search(r"^HEALTHCHECK .*?CMD (.*)$", df, re.M | re.S)
    hc_cmd = hc.group(1) if hc else ""
    check(f"sluice monitor --once" in hc_cmd and f"127.0.0.1:{public}" in hc_cmd,
          f"Dockerfile's HEALTHCHECK asks {HEALTH} of the public port :{public} (sluice monitor --once)")
    exposed = set(int(p) for p in re.findall(r"^EXPOSE\s+(.*)$", df, re.M)[0].split())
    check(exposed == {public, admin}, f"Dockerfile exposes {sorted(exposed)} = listen, admin_listen")
    check("/etc/sluice/sluice.toml" in df, "Dockerfile's SLUICE_CONFIG is /etc/sluice/sluice.toml")

    # --- compose
    compose = yaml.safe_load(read("compose.yaml"))
    services = compose["services"]
    relays = {n: s for n, s in services.items() if s.get("image", "").startswith("sluice")}
    check(len(relays) == 2, f"compose runs two relays ({', '.join(relays)})")
    for name, s in relays.items():
        env = s.get("environment", {})
        missing = [v for v in env_vars if v not in env]
        check(not missing, f"compose {name} sets every secret sluice.toml names"
              + (f" (missing {missing})" if missing else ""))
        check("@postgres:5432/" in env.get("SLUICE_DATABASE_URL", "")
              and env.get("SLUICE_REDIS_URL", "").startswith("redis://redis:"),
              f"compose {name}: store.url is the postgres service, redis_url the redis service")
        vols = s.get("volumes", [])
        check("./sluice.toml:/etc/sluice/sluice.toml:ro" in vols,
              f"compose {name} mounts deploy/sluice.toml read-only at the image's config path")
        check(any(v.endswith(":/var/lib/sluice") and v.startswith(f"{name}-") for v in vols),
              f"compose {name} has its own volume at /var/lib/sluice (the usage spool)")
        check(seconds(s.get("stop_grace_period", "10s")) >= stop_bound + 5
              and s.get("stop_signal", "SIGTERM") == "SIGTERM",
              f"compose {name}: SIGTERM, stop_grace_period {s.get('stop_grace_period')} >= {stop_bound}s + 5s")
        check("ports" not in s, f"compose {name} publishes no port (nginx does)")
    spools = [v for s in relays.values() for v in s.get("volumes", []) if v.endswith(":/var/lib/sluice")]
    check(len(set(v.split(":")[0] for v in spools)) == len(relays), "compose: no two relays share a spool volume")
    check({"postgres", "redis", "nginx"} <= set(services), "compose has postgres, redis and nginx")
    published = [n for n, s in services.items() if s.get("ports")]
    check(published == ["nginx"], f"compose: only nginx publishes a port ({published})")
    env_example = dict(
        l.split("=", 1) for l in read("env.example").splitlines() if l and not l.startswith("#")
    )
    compose_text = read("compose.yaml")
    named = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)[:?}]", compose_text)))
    check(set(named) <= set(env_example), f"env.example names every variable compose reads ({', '.join(named)})")

    # --- nginx
    ng = read("nginx.conf")
    upstream = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", ng, re.M)
    check(sorted(h for h, _ in upstream) == sorted(relays)
          and all(int(p) == public for _, p in upstream),
          f"nginx's upstream is the compose relays on :{public} ({upstream})")
    nginx_ports = services["nginx"].get("ports", [])
    listen_port = re.search(r"^\s*listen\s+(\d+)", ng, re.M).group(1)
    check(all(p.split(":")[-1] == listen_port for p in nginx_ports),
          f"compose publishes nginx's listen port {listen_port}")
    check("proxy_buffering off" in ng, "nginx does not buffer responses (streams)")
    check(f"location = {HEALTH}" in ng and "location /api/" in ng,
          "nginx passes health on, refuses the rest of /api/")

    # --- systemd
    unit = read("sluice.service")
    kv = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            kv.setdefault(k.strip(), []).append(v.strip())
    check(kv.get("KillSignal") == ["SIGTERM"], "systemd stops with SIGTERM (the relay's drain)")
    check(seconds(kv["TimeoutStopSec"][0]) >= stop_bound + 5,
          f"systemd TimeoutStopSec {kv['TimeoutStopSec'][0]} >= {stop_bound}s + 5s")
    check(any("sluice serve --config /etc/sluice/sluice.toml" in v for v in kv["ExecStart"]),
          "systemd serves /etc/sluice/sluice.toml")
    check(kv.get("NoNewPrivileges") == ["yes"] and kv.get("ProtectSystem") == ["strict"]
          and kv.get("StateDirectory") == ["sluice"] and cfg["store"]["data_dir"] == "/var/lib/sluice",
          "systemd is hardened (NoNewPrivileges, ProtectSystem=strict) and its StateDirectory is store.data_dir")
    overrides = " ".join(kv.get("Environment", []))
    check("SLUICE_LISTEN=127.0.0.1:" in overrides and "SLUICE_ADMIN_LISTEN=127.0.0.1:" in overrides,
          "systemd listens on loopback (SLUICE_LISTEN, SLUICE_ADMIN_LISTEN)")

    # --- Kubernetes
    k8s = {}
    for f in sorted(os.listdir(os.path.join(d, "k8s"))):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            for doc in yaml.safe_load_all(read("k8s", f)):
                k8s[doc["kind"]] = doc
    kust = yaml.safe_load(read("k8s", "kustomization.yaml"))
    listed = sorted(kust["resources"])
    present = sorted(f for f in os.listdir(os.path.join(d, "k8s")) if f.endswith(".yaml") and f != "kustomization.yaml")
    check(listed == present, f"kustomization lists every manifest ({', '.join(listed)})")
    cm = k8s["ConfigMap"]["data"]["sluice.toml"]
    check(cm == toml_text, "k8s ConfigMap's sluice.toml is deploy/sluice.toml byte for byte")
    secret = k8s["Secret"].get("stringData", {})
    missing = [v for v in env_vars if v not in secret]
    check(not missing, "k8s Secret holds every secret sluice.toml names" + (f" (missing {missing})" if missing else ""))
    dep = k8s["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports == {"http": public, "admin": admin}, f"k8s container ports {ports} = listen, admin_listen")
    rp = c["readinessProbe"]["httpGet"]
    check(rp["path"] == HEALTH and ports.get(rp["port"]) == public,
          f"k8s readiness: GET {HEALTH} on the public port (503 while critical or draining)")
    check("livenessProbe" in c and "httpGet" not in c["livenessProbe"],
          "k8s liveness does not restart a relay for a critical status (tcpSocket)")
    sleep = c["lifecycle"]["preStop"]["exec"]["command"]
    sleep_s = int(sleep[-1]) if sleep[0] == "sleep" else -1
    tgps = pod["terminationGracePeriodSeconds"]
    check(0 < sleep_s < tgps and tgps >= sleep_s + stop_bound + 5,
          f"k8s preStop sleep {sleep_s}s < terminationGracePeriodSeconds {tgps} >= {sleep_s} + {stop_bound} + 5")
    sc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and str(sc.get("runAsUser")) == uid,
          f"k8s runs as non-root uid {sc.get('runAsUser')} (the image's USER)")
    check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
          and csc.get("capabilities", {}).get("drop") == ["ALL"],
          "k8s container: read-only root, no privilege escalation, no capabilities")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    check({"/etc/sluice", "/var/lib/sluice", "/tmp"} <= mounts,
          "k8s mounts the config, the spool directory and /tmp (the root is read-only)")
    check(c.get("resources", {}).get("requests") and c["resources"].get("limits", {}).get("memory"),
          "k8s sets resource requests and a memory limit")
    check(any(e.get("secretRef", {}).get("name") == k8s["Secret"]["metadata"]["name"] for e in c.get("envFrom", [])),
          "k8s container reads the Secret as its environment")
    svc = k8s["Service"]
    check([p["targetPort"] for p in svc["spec"]["ports"]] == ["http"],
          "k8s Service sends traffic to the public port only")

    print(f"{len(failures)} of the facts above failed" if failures else "every fact above holds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
