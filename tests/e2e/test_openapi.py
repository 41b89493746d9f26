#!/usr/bin/python3
"""The server against its OpenAPI file (tests/e2e/test_openapi.sh runs this).

Checks, and prints one line per failure (exit 1 when any):
  * producers/api/openapi.yaml is OpenAPI 3.1.x;
  * every operation has x-oss-action: public, self or an action of
    src/core/authz.c (oss_action_name);
  * the documented operations are exactly the routes `oss-api --routes`
    prints (every documented route is served, every served route is
    documented);
  * on the live server (OSS_API_URL) each documented operation, called
    without credentials with a harmless body, is routed (neither 405 nor the
    server's 404 "no such resource"), answers a status its responses list
    documents, and answers errors in the JSON error shape.

usage: test_openapi.py OPENAPI_YAML OSS_API_BIN API_URL [AUTHZ_C]
"""
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DUMMY_ID = "00000000-0000-7000-8000-0000000000fe"


def fail(failures, msg):
    failures.append(msg)
    print("FAIL: " + msg)


def action_names(authz_c):
    """The action names of oss_action_name() in src/core/authz.c."""
    try:
        src = open(authz_c, encoding="utf-8").read()
    except OSError:
        return None
    m = re.search(r"oss_action_name\s*\([^)]*\)\s*\{(.*?)\n\}", src, re.S)
    body = m.group(1) if m else src
    # string literals in the function (or a table it indexes)
    names = set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)?)"', body))
    if len(names) < 3:  # a table elsewhere in the file: [OSS_ACT_X] = "x"
        names = set(re.findall(r'\[OSS_ACT_[A-Z_]+\]\s*=\s*"([a-z_.]+)"', src))
    return names


def fill(path):
    """A concrete path for a documented template."""
    def one(m):
        name = m.group(1)
        if "code" in name or "institution" in name:
            return "oss"
        return DUMMY_ID
    return re.sub(r"\{([^}]+)\}", one, path)


def call(url, method):
    body = None
    headers = {"X-Correlation-Id": "openapi-conformance"}
    if method in ("POST", "PUT", "PATCH"):
        body = b"{}"
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    spec_path, api_bin, api_url = sys.argv[1:4]
    authz_c = sys.argv[4] if len(sys.argv) > 4 else None
    failures = []
    spec = yaml.safe_load(open(spec_path, encoding="utf-8"))

    ver = str(spec.get("openapi", ""))
    if not re.match(r"^3\.1\.\d+$", ver):
        fail(failures, f"openapi is {ver!r}, want 3.1.x")
    else:
        print(f"ok: OpenAPI {ver}")

    known_actions = action_names(authz_c) if authz_c else None
    documented = {}
    for path, item in (spec.get("paths") or {}).items():
        for m, op in item.items():
            if m not in METHODS:
                continue
            documented[(m.upper(), path)] = op
            act = op.get("x-oss-action")
            if not act:
                fail(failures, f"{m.upper()} {path}: no x-oss-action")
            elif act not in ("public", "self") and known_actions is not None \
                    and act not in known_actions:
                fail(failures, f"{m.upper()} {path}: x-oss-action {act!r} "
                     f"is not an action of authz.c {sorted(known_actions)}")
            if not op.get("responses"):
                fail(failures, f"{m.upper()} {path}: no responses")
    print(f"ok: {len(documented)} documented operations")

    out = subprocess.run([api_bin, "--routes"], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        fail(failures, f"{api_bin} --routes exited {out.returncode}: {out.stderr}")
        return 1
    served = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            served.add((parts[0], parts[1]))
    if not served:
        fail(failures, "oss-api --routes printed no route")
    for k in sorted(served - set(documented)):
        fail(failures, f"served but not documented: {k[0]} {k[1]}")
    for k in sorted(set(documented) - served):
        fail(failures, f"documented but not served: {k[0]} {k[1]}")
    print(f"ok: --routes lists {len(served)} routes")

    live = 0
    for (method, path), op in sorted(documented.items()):
        status, body, headers = call(api_url.rstrip("/") + fill(path), method)
        what = f"{method} {path} -> {status}"
        err = None
        if status >= 400 and method != "HEAD":
            try:
                err = json.loads(body)["error"]
                assert isinstance(err["code"], str)
                assert isinstance(err["message"], str)
                assert isinstance(err["fields"], list)
            except (ValueError, KeyError, TypeError, AssertionError):
                fail(failures, f"{what}: not the JSON error shape: {body[:200]!r}")
                err = None
        if status == 405:
            fail(failures, f"{what}: method not allowed (not served)")
            continue
        if status == 404 and err and err.get("message") == "no such resource":
            fail(failures, f"{what}: no such route on the live server")
            continue
        documented_statuses = {str(k) for k in (op.get("responses") or {})}
        if str(status) not in documented_statuses and \
                "default" not in documented_statuses and \
                f"{str(status)[0]}XX" not in documented_statuses:
            fail(failures, f"{what}: status not documented "
                 f"(documented: {sorted(documented_statuses)})")
            continue
        if status in (429, 503) and "Retry-After" not in headers:
            fail(failures, f"{what}: without Retry-After")
        live += 1
    print(f"ok: {live} of {len(documented)} operations answered a documented "
          "status on the live server")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
