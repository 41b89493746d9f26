#!/usr/bin/python3
"""The authorization matrix over real HTTP (tests/e2e/test_authz_matrix.sh).

Every operation of producers/api/openapi.yaml (its x-oss-action) x every
role x an in-scope and an out-of-scope target, expecting the documented
status (producers/api/README.md "Authorization", the matrix of PLAN4):
  401  no or bad session;
  403  a known role that may not, or a government role out of scope;
  404  a business user asking about another business's account (hidden);
  allowed  anything else (the handler went past authorization: 2xx, 409,
           422 for the deliberately empty body, a 404 naming something
           other than the account, ...).
Every status seen must also be among the operation's documented responses.
x-oss-action public: anything but 401/403 for everyone; self: 401 without a
session, else allowed (or 403 when the operation documents one, for a
resource that names another person, e.g. a transfer offered to someone
else).

Then the owner and the operator end their own sessions: the next request
with those tokens is 401 at once.

Set-up (unique per run; the database is shared): business account A
(domicile region 3171010001) with its owner, a preparer and a viewer added
through POST /v1/accounts/A/members, and account B (region 3273010001) that
none of them belongs to; government principals made with `oss principal
create`: officer_in (institution 3100000000: covers A, not B), officer_out
(institution 9400000000: covers neither), officer_oss (the OSS authority's
national officer), access_admin of 3100000000,
operator and auditor of "oss". Each activates with the OTP of its
activation (the sealed delivery, or the mail the notifier sent), sets a
password and signs in.

Requests never hurt the fixtures: bodies are "{}" (so an allowed command
stops at validation), sub-resources (members/{principal_id}, {rid},
sessions/{id}, subjects/{id}, ...) are random ids, and public account paths
use random account ids.

usage: test_authz_matrix.py OPENAPI_YAML   (env: OSS_API_URL, OSS_PG_URL,
       OSS_CONFIG, OSS_CLI, E2E_ROOT)
"""
import email
import glob
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import yaml

API = os.environ["OSS_API_URL"].rstrip("/")
PG = os.environ["OSS_PG_URL"]
CLI = os.environ.get("OSS_CLI", "")
ROOT = os.environ.get("E2E_ROOT", os.getcwd())
HERE = os.path.dirname(os.path.abspath(__file__))
MAIL_DIR = os.path.join(ROOT, "var", "mail")
PASSWORD = "Matriks#Uji%d9" % random.randint(1000, 9999)
SESSIONS = {}  # token -> session id

REGION_A, REGION_B = "3171010001", "3273010001"
INST_IN, INST_OUT = "3100000000", "3200000000"
BUSINESS = ("owner", "preparer", "viewer")
ROLES = BUSINESS + ("officer_in", "officer_out", "officer_oss",
                    "access_admin", "operator", "auditor", "anonymous")
METHODS = ("get", "put", "post", "delete", "patch")


def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def say(msg):
    print("ok: " + msg, flush=True)


# ---- HTTP and SQL ----------------------------------------------------------

def call(method, path, body=None, token=None):
    """(status, parsed JSON or None, raw bytes)."""
    headers = {"X-Correlation-Id": "authz-matrix"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    # the shared stack's API may be restarted by someone meanwhile: retry
    # a refused or dropped connection for a while (every request here is
    # harmless to repeat)
    for attempt in range(60):
        req = urllib.request.Request(API + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw, status = r.read(), r.status
            break
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
            break
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            if attempt == 59:
                die("%s %s: %s" % (method, path, e))
            time.sleep(0.5)
    try:
        js = json.loads(raw) if raw else None
    except ValueError:
        js = None
    return status, js, raw


def psql(sql, *params):
    """One value (or "") of a query; params are psql variables :'p1'..."""
    args = ["psql", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", PG]
    for i, p in enumerate(params, 1):
        args += ["-v", "p%d=%s" % (i, p)]
    out = subprocess.run(args, input=sql, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


# ---- people ----------------------------------------------------------------

def nik():
    """A structurally valid NIK (DKI, Jakarta Pusat) and its birth date."""
    d, m, y = random.randint(1, 28), random.randint(1, 12), random.randint(60, 99)
    dd = d + 40 if random.random() < 0.5 else d
    return ("317101%02d%02d%02d%04d" % (dd, m, y, random.randint(1, 9999)),
            "19%02d-%02d-%02d" % (y, m, d))


def person(tag):
    n, bd = nik()
    name = "Matriks " + re.sub(r"[^A-Za-z]+", " ", tag).strip().title()
    return {"nik": n, "birth_date": bd, "name": name,
            "email": "mx.%s.%d.%d@example.co.id" % (tag, os.getpid(),
                                                  random.randint(0, 10**6)),
            "phone": "+62812%08d" % random.randint(0, 10**8 - 1)}


def register(tag, region):
    p = person(tag)
    body = {"scale": "UMK", "actor_type": "02", "nik": p["nik"],
            "name": p["name"], "birth_date": p["birth_date"],
            "email": p["email"], "phone": p["phone"], "country": "ID",
            "terms_version": "2025-06", "region_code": region}
    st, js, raw = call("POST", "/v1/accounts", body)
    if st != 201:
        die("registering %s: %d %s" % (tag, st, raw[:300]))
    return js["account_id"]


def otp_of(principal_id, deadline_s=90):
    """The OTP of principal_id's latest activation: from its sealed delivery
    while the notifier has not sent it yet, else from the delivered mail."""
    stream = "access-" + principal_id
    end = time.time() + deadline_s
    while time.time() < end:
        d = psql("SELECT delivery_id FROM oss.deliveries WHERE stream_id = "
                 ":'p1' AND kind = 'activation' ORDER BY created_at DESC "
                 "LIMIT 1", stream)
        if d:
            out = subprocess.run(["/usr/bin/python3",
                                  os.path.join(HERE, "open_delivery.py"), d],
                                 capture_output=True, text=True, check=False)
            if out.returncode == 0:
                return json.loads(out.stdout)["otp"]
        ev = psql("SELECT event_id FROM oss.journal WHERE stream_id = :'p1' "
                  "AND payload_type = 'oss.v1.ActivationIssued' ORDER BY "
                  "version DESC LIMIT 1", stream)
        if ev:
            needle = ("Message-ID: <%s@oss.local>" % ev).encode()
            since = time.time() - 600
            for f in sorted(glob.glob(os.path.join(MAIL_DIR, "*.eml")),
                            reverse=True)[:400]:
                try:
                    if os.path.getmtime(f) < since:
                        break
                    raw = open(f, "rb").read()
                except OSError:
                    continue
                if needle not in raw:
                    continue
                msg = email.message_from_bytes(raw)
                text = "".join(p.get_payload(decode=True).decode("utf-8")
                               for p in msg.walk()
                               if p.get_content_type() == "text/plain")
                m = re.search(r"(?:Kode OTP Anda|Your OTP code): (\d{6})", text)
                if m:
                    return m.group(1)
        time.sleep(0.3)
    die("no activation OTP for %s within %d s" % (principal_id, deadline_s))
    return None


def e2e_secret(value, principal=""):
    """Registers a secret for tests/e2e/test_secrets_sweep.sh (lib.sh's
    e2e_secret: "TEST<TAB>PRINCIPAL<TAB>VALUE" lines, file 0600)."""
    path = os.environ.get("E2E_SECRETS") or os.path.join(ROOT, "var", "e2e-secrets.txt")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, ("test_authz_matrix.py\t%s\t%s\n" % (principal, value)).encode())
    finally:
        os.close(fd)


def activate_and_sign_in(pid, kind):
    """kind "accounts" (a registration's owner) or "principals"."""
    otp = otp_of(pid)
    e2e_secret(otp, pid)
    e2e_secret(PASSWORD)
    st, _, raw = call("POST", "/v1/%s/%s/activate" % (kind, pid), {"otp": otp})
    if st != 200:
        die("activating %s: %d %s" % (pid, st, raw[:300]))
    st, _, raw = call("POST", "/v1/%s/%s/password" % (kind, pid),
                      {"password": PASSWORD})
    if st not in (200, 204):
        die("setting the password of %s: %d %s" % (pid, st, raw[:300]))
    key = "account_id" if kind == "accounts" else "principal_id"
    st, js, raw = call("POST", "/v1/sessions", {key: pid, "password": PASSWORD})
    if st != 201 or not js or not js.get("token"):
        die("signing in %s: %d %s" % (pid, st, raw[:300]))
    SESSIONS[js["token"]] = js.get("session_id", "")
    e2e_secret(js["token"])
    return js["token"]


def add_member(account, owner_token, role):
    p = person(role)
    p.update({"role": role, "channel": "email"})
    st, js, raw = call("POST", "/v1/accounts/%s/members" % account, p,
                       owner_token)
    if st != 201 or not js or not js.get("principal_id"):
        die("adding a %s to %s: %d %s" % (role, account, st, raw[:300]))
    return js["principal_id"]


def gov_principal(role, institution, tag):
    if not CLI or not os.access(CLI, os.X_OK):
        die("OSS_CLI (%r) is not an executable: cannot create %s" % (CLI, role))
    p = person(tag)
    args = [CLI, "principal", "create", "--role", role, "--institution",
            institution, "--nik", p["nik"], "--name", p["name"], "--email",
            p["email"], "--phone", p["phone"], "--birth-date", p["birth_date"]]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}", out.stdout)
    if out.returncode != 0 or not ids:
        die("oss principal create --role %s --institution %s: exit %d: %s %s"
            % (role, institution, out.returncode, out.stdout, out.stderr))
    return ids[-1]


# ---- the documented matrix ---------------------------------------------------

def expected(action, role, target, inscope):
    """'401' | '403' | '404' | 'allowed' as documented."""
    if action == "public":
        return "allowed"
    if role == "anonymous":
        return "401"
    if action == "self":
        return "allowed"
    if target == "account" and role in BUSINESS:
        if not inscope:
            return "404"
        allowed = {"account.read": BUSINESS, "handover.file": BUSINESS,
                   "personal.read": ("owner",), "members.manage": ("owner",),
                   "transfer": ("owner",), "handover.object": ("owner",)}
        return "allowed" if role in allowed.get(action, ()) else "403"
    if role == "operator":
        ok = ("account.read", "personal.read", "handover.file", "terminate",
              "restrict", "help.decide", "subject.erase", "audit.read")
        return "allowed" if action in ok else "403"
    if role == "auditor":
        ok = ("account.read", "personal.read", "audit.read")
        return "allowed" if action in ok else "403"
    if role == "officer_in":
        ok = ("account.read", "personal.read", "handover.decide")
        return "allowed" if target == "account" and inscope and action in ok \
            else "403"
    if role == "officer_oss":  # the OSS authority's officer: national
        ok = ("account.read", "personal.read", "handover.decide", "terminate",
              "restrict")
        return "allowed" if target == "account" and action in ok else "403"
    if role == "access_admin":
        return "allowed" if action == "officers.manage" and \
            target == "institution" and inscope else "403"
    return "403"  # officer_out; business roles without an account target


def observed(status, js, action):
    if status in (401, 403):
        return str(status)
    if action in ("public", "self"):
        return "allowed"  # a 404 there is an unknown id, not a hidden account
    if status == 404 and isinstance(js, dict) and \
            (js.get("error") or {}).get("message") == "no such account":
        return "404"
    return "allowed"


def target_of(path):
    if path.startswith("/v1/accounts/{"):
        return "account"
    if path.startswith("/v1/institutions/{"):
        return "institution"
    return "none"


def fill(path, action, target, inscope, accounts):
    first = [True]

    def one(m):
        is_first = first[0]
        first[0] = False
        if is_first and target == "account" and action != "public":
            return accounts["A" if inscope else "B"]
        if is_first and target == "institution":
            return INST_IN if inscope else INST_OUT
        return str(uuid.uuid4())  # sub-resources, public account paths
    return re.sub(r"\{[^}]+\}", one, path)


def main():
    spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
    ops = []
    for path, item in (spec.get("paths") or {}).items():
        for m, op in item.items():
            if m in METHODS:
                act = op.get("x-oss-action")
                if not act:
                    die("%s %s has no x-oss-action" % (m.upper(), path))
                documented = {str(k) for k in (op.get("responses") or {})}
                ops.append((m.upper(), path, act, documented))
    say("%d documented operations" % len(ops))

    # ---- principals of every role
    t0 = time.time()
    accounts = {"A": register("owner", REGION_A), "B": register("other", REGION_B)}
    tokens = {"anonymous": None}
    tokens["owner"] = activate_and_sign_in(accounts["A"], "accounts")
    for role in ("preparer", "viewer"):
        pid = add_member(accounts["A"], tokens["owner"], role)
        tokens[role] = activate_and_sign_in(pid, "principals")
    gov = {"officer_in": ("officer", INST_IN), "officer_out": ("officer", "9400000000"),
           "officer_oss": ("officer", "oss"),
           "access_admin": ("access_admin", INST_IN), "operator": ("operator", "oss"),
           "auditor": ("auditor", "oss")}
    for name, (role, inst) in gov.items():
        pid = gov_principal(role, inst, name)
        tokens[name] = activate_and_sign_in(pid, "principals")
    # GET /v1/accounts/{id} reads the read model: wait for the projector
    end = time.time() + 180
    while psql("SELECT count(*) FROM rm.accounts WHERE account_id IN "
               "(:'p1', :'p2')", accounts["A"], accounts["B"]) != "2":
        if time.time() > end:
            die("accounts A and B not in rm.accounts after 180 s: is the "
                "projector running and caught up?")
        time.sleep(0.3)
    say("accounts A=%s B=%s; %d roles signed in (%.1f s)"
        % (accounts["A"], accounts["B"], len(tokens) - 1, time.time() - t0))

    # ---- the matrix
    failures, cells = [], 0
    lines = []
    for method, path, action, documented in sorted(ops, key=lambda o: (o[1], o[0])):
        target = target_of(path)
        scopes = (True, False) if target != "none" and action != "public" \
            else (True,)
        for inscope in scopes:
            row = []
            for role in ROLES:
                p = fill(path, action, target, inscope, accounts)
                body = {} if method in ("POST", "PUT", "PATCH") else None
                st, js, raw = call(method, p, body, tokens[role])
                want = expected(action, role, target, inscope)
                got = observed(st, js, action)
                # a self operation may document 403 for a resource that
                # names someone else (e.g. a transfer offered to another)
                accept = {want}
                if action == "self" and want == "allowed" and "403" in documented:
                    accept.add("403")
                cells += 1
                mark = "%s=%d" % (role, st)
                if str(st) not in documented and "default" not in documented:
                    mark += "?"
                    failures.append("%s %s as %s: %d is not among its "
                                    "documented responses %s"
                                    % (method, path, role, st,
                                       sorted(documented)))
                if got not in accept:
                    mark += "!"
                    failures.append("%s %s [%s, %s] as %s: %d (%s), want %s; %s"
                                    % (method, path, action,
                                       "in" if inscope else "out", role, st,
                                       got, want, raw[:160]))
                row.append(mark)
            lines.append("%-6s %-55s %-16s %-3s %s" % (
                method, path, action, "in" if inscope else "out",
                " ".join(row)))
    # an ended session is refused at once (no cache, no read model)
    for role in ("owner", "operator"):
        tok = tokens[role]
        p = "/v1/accounts/" + accounts["A"]
        st, _, raw = call("DELETE", "/v1/sessions/" + SESSIONS.get(tok, "x"),
                          None, tok)
        if st != 204:
            failures.append("ending the %s's own session: %d %s"
                            % (role, st, raw[:160]))
        st, _, raw = call("GET", p, None, tok)
        if st != 401:
            failures.append("GET %s with the %s's ended session: %d, want 401"
                            % (p, role, st))
    if not failures:
        say("an ended session is refused at once (owner, operator)")
    out_file = os.environ.get("AUTHZ_MATRIX_OUT")
    if out_file:
        with open(out_file, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    for f in failures:
        print("FAIL: " + f)
    say("%d cells (%d operations x %d roles x in/out scope), %d mismatches"
        % (cells, len(ops), len(ROLES), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
