"""One line per fact checked, for deploy/consistency.py and deploy/serve_check.py: `ok` or
`FAIL` and what it was; the failures kept for the exit code."""

HEALTH = "/api/monitor/health"

failures = []


def check(ok, what):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)
    return ok
