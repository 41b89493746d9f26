#!/usr/bin/env python3
"""The house rules, checked against the tree (and the build's link lines).

    check.py RULE [--root DIR] [--build DIR]   one rule: exit 0 when it holds
    check.py --selftest                        plant a violation of every rule
                                               in a scratch copy and check that
                                               the rule then fails

Rules (the production code is src/, producers/, consumers/, infra/; tests/
are not held to them):
  format      every tracked .c/.h matches .clang-format
  journal     no file outside src/journal/ names oss.journal
  api_link    no program but oss-api links the API's handlers (oss_api_lib)
  kafka       no file outside src/bus/ calls rd_kafka_new,
              rd_kafka_consumer_poll, rd_kafka_produceev or rd_kafka_producev
  pg_connect  no file but src/db/db.c calls PQconnectdb* / PQconnectStart*
  core        src/core includes libc and its own headers only; and the build
              refuses a core file that includes journal/journal.h
  migrations  infra/sql/NNN_*.sql numbers are unique
  circles     no include or call circle among files, and no include or call
              from a lower layer into a higher one (core < util < shell <
              app < programs)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROD = ("src", "producers", "consumers", "infra")
SRC_EXT = (".c", ".h")
# C11 and POSIX headers the core may include
LIBC = set("""assert.h ctype.h errno.h float.h inttypes.h iso646.h limits.h
locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h
stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h string.h strings.h tgmath.h
threads.h time.h uchar.h wchar.h wctype.h""".split())


def sources(root, dirs=PROD, ext=SRC_EXT):
    """Relative paths of the source files under root/dirs, sorted."""
    out = []
    for d in dirs:
        for base, subdirs, files in os.walk(os.path.join(root, d)):
            # node_modules: the outside tools tests/tools installs, not ours
            subdirs[:] = [s for s in subdirs
                          if not s.startswith(".") and s != "node_modules"]
            for f in files:
                if f.endswith(ext):
                    out.append(os.path.relpath(os.path.join(base, f), root))
    return sorted(out)


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def grep_rule(root, pattern, allowed):
    """Lines matching pattern in production files that allowed(rel) rejects."""
    rx = re.compile(pattern)
    bad = []
    for rel in sources(root):
        if allowed(rel):
            continue
        for n, line in enumerate(read(root, rel).splitlines(), 1):
            if rx.search(line):
                bad.append(f"{rel}:{n}: {line.strip()}")
    return bad


def rule_format(root, build):
    files = sources(root, ("src", "producers", "consumers", "infra", "tests"))
    if shutil.which("clang-format") is None:
        return ["clang-format is not installed (infra/lib.sh installs it)"]
    p = subprocess.run(["clang-format", "--dry-run", "-Werror"] + files,
                       cwd=root, capture_output=True, text=True)
    if p.returncode == 0:
        return []
    named = sorted({l.split(":")[0] for l in p.stderr.splitlines()
                    if ": error:" in l})
    return [f"{f}: not formatted (clang-format -i {f})" for f in named] or \
        [p.stderr[:2000]]


def rule_journal(root, build):
    return grep_rule(root, r"\boss\.journal\b",
                     lambda rel: rel.startswith("src/journal/"))


def rule_kafka(root, build):
    return grep_rule(
        root,
        r"\brd_kafka_(new|consumer_poll|produceev|producev)\s*\(",
        lambda rel: rel.startswith("src/bus/"))


def rule_pg_connect(root, build):
    return grep_rule(root, r"\bPQconnect(db|dbParams|Start|StartParams)\s*\(",
                     lambda rel: rel == "src/db/db.c")


def rule_api_link(root, build):
    """Reads the link line of every program the build made."""
    if not build or not os.path.isdir(build):
        return [f"no build directory {build!r} (set OSS_BUILD_DIR)"]
    bad, seen = [], 0
    for base, _, files in os.walk(build):
        if "link.txt" not in files or not base.endswith(".dir"):
            continue
        target = os.path.basename(base)[:-4]
        line = open(os.path.join(base, "link.txt")).read()
        if " -o " not in line or line.lstrip().startswith(("/usr/bin/ar", "ar ")):
            continue
        if re.search(r"\b(ar|ranlib)\b qc", line):
            continue
        seen += 1
        test = re.match(r"(unit|integration|bench|fuzz)_|bench$", target) \
            or "/tests/" in base.replace(build, "")
        if target != "oss-api" and not test and "liboss_api_lib.a" in line:
            bad.append(f"{target} links liboss_api_lib.a ({base}/link.txt)")
    if seen == 0:
        bad.append(f"no link lines under {build}: is it a Makefile build?")
    return bad


def rule_core(root, build):
    bad = []
    core = os.path.join(root, "src", "core")
    rx = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
    for rel in sources(root, ("src/core",)):
        for n, line in enumerate(read(root, rel).splitlines(), 1):
            m = rx.match(line)
            if not m:
                continue
            kind, name = m.groups()
            if kind == "<" and name in LIBC:
                continue
            if kind == '"':
                own = name[5:] if name.startswith("core/") else name
                if "/" not in own and os.path.exists(os.path.join(core, own)):
                    continue
            bad.append(f"{rel}:{n}: core includes {kind}{name}: only libc "
                       "and the core's own headers")
    bad += core_build_refuses(root, build)
    return bad


def core_build_refuses(root, build):
    """Compiles a core file as the build does, then the same file with
    #include "journal/journal.h" added: the first must build, the second
    must not."""
    if not build:
        return []
    db = os.path.join(build, "compile_commands.json")
    if not os.path.exists(db):
        return [f"{db} missing: configure the build first"]
    entries = [e for e in json.load(open(db))
               if "/src/core/" in e["file"] and e["file"].endswith(".c")]
    if not entries:
        return [f"no core file in {db}"]
    e = entries[0]
    src = e["file"]
    with tempfile.TemporaryDirectory() as tmp:
        # the copy sits where the core's quoted includes still resolve
        # through the include root only (not beside the real core)
        def compile_with(extra):
            path = os.path.join(tmp, "probe.c")
            with open(path, "w") as f:
                f.write(extra + open(src).read())
            cmd = e["command"].replace(src, path)
            cmd = re.sub(r"-o \S+", "-o " + os.path.join(tmp, "probe.o"), cmd)
            return subprocess.run(cmd, shell=True, cwd=e["directory"],
                                  capture_output=True, text=True)
        ok = compile_with("")
        if ok.returncode != 0:
            return [f"the core file {src} does not compile as the build "
                    f"compiles it: {ok.stderr[:500]}"]
        impure = compile_with('#include "journal/journal.h"\n')
        if impure.returncode == 0:
            return ["the build lets a core file include journal/journal.h "
                    "(src/CMakeLists.txt: the core's include root)"]
    return []


def rule_migrations(root, build):
    seen, bad = {}, []
    for f in sorted(os.listdir(os.path.join(root, "infra", "sql"))):
        m = re.match(r"^(\d+)_.*\.sql$", f)
        if not m:
            continue
        if m.group(1) in seen:
            bad.append(f"infra/sql: {f} and {seen[m.group(1)]} share the "
                       f"number {m.group(1)}")
        seen.setdefault(m.group(1), f)
    return bad


# --- circles -----------------------------------------------------------

def layer(rel):
    """core 0 < util 1 < shell 2 < app 3 < programs 4"""
    if rel.startswith("src/core/"):
        return 0
    if rel.startswith("src/util/"):
        return 1
    if rel.startswith("src/app/"):
        return 3
    if rel.startswith("src/"):
        return 2
    return 4


DEF_RX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(", re.M)
CALL_RX = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
INC_RX = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
STRIP_RX = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                      re.S)


def graph(root):
    """File -> {file: names}. Two kinds of arrow: a .c file calls a function
    that another .c file defines with external linkage (the house style
    starts a function definition's name at column 0, its return type on the
    line above), and a file includes a header (resolved as the build does:
    beside the file, then under src/). A private header that includes its
    module's public one is no circle: circles are looked for among calls
    between .c files and includes between headers; layers among all."""
    files = sources(root, ("src", "producers", "consumers"))
    fileset = set(files)
    text = {f: read(root, f) for f in files}
    defs, statics = {}, {}
    for f in files:
        if not f.endswith(".c"):
            continue
        body = text[f]
        for m in DEF_RX.finditer(body):
            name = m.group(1)
            start = body.rfind("\n", 0, max(m.start() - 1, 0))
            prev = body[start + 1:m.start()]
            if "static" in prev:
                statics.setdefault(f, set()).add(name)
            elif name != "main":
                defs.setdefault(name, set()).add(f)
    calls = {f: {} for f in files}
    incs = {f: {} for f in files}
    for f in files:
        body = text[f]
        for inc in INC_RX.findall(body):
            for c in (os.path.normpath(os.path.join(os.path.dirname(f), inc)),
                      os.path.normpath(os.path.join("src", inc))):
                if c in fileset:
                    if c != f:
                        incs[f].setdefault(c, set()).add("#include")
                    break
        if not f.endswith(".c"):
            continue
        code = STRIP_RX.sub(" ", body)
        own = statics.get(f, set())
        for name in set(CALL_RX.findall(code)) - own:
            for g in defs.get(name, ()):
                if g != f:
                    calls[f].setdefault(g, set()).add(name)
    return calls, incs


def sccs(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(set(edges) | {b for t in edges.values() for b in t}):
        if v not in index:
            visit(v)
    return comps


def rule_circles(root, build):
    calls, incs = graph(root)
    bad = []
    for kind, edges in (("call", calls), ("include", incs)):
        for a, tos in sorted(edges.items()):
            for b, names in sorted(tos.items()):
                if layer(b) > layer(a):
                    bad.append(f"upward {kind}: {a} -> {b} "
                               f"({', '.join(sorted(names)[:4])})")
    headers = {a: {b: n for b, n in t.items() if b.endswith(".h")}
               for a, t in incs.items() if a.endswith(".h")}
    for kind, edges in (("call", calls), ("include", headers)):
        for c in sccs(edges):
            ties = [f"{a} -> {b}: {', '.join(sorted(n)[:4])}"
                    for a in c for b, n in sorted(edges.get(a, {}).items())
                    if b in c]
            bad.append(f"{kind} circle of {len(c)} files: {', '.join(c)}\n"
                       "    " + "\n    ".join(ties))
    return bad


RULES = {
    "format": rule_format,
    "journal": rule_journal,
    "api_link": rule_api_link,
    "kafka": rule_kafka,
    "pg_connect": rule_pg_connect,
    "core": rule_core,
    "migrations": rule_migrations,
    "circles": rule_circles,
}


# --- self-test: every rule must be able to fail ------------------------

def plant(rule, tmp, build_copy):
    """Writes one violation of rule into the scratch tree tmp."""
    def append(rel, text):
        with open(os.path.join(tmp, rel), "a") as f:
            f.write(text)
    if rule == "format":
        append("src/core/error.c", "int   oss_planted_badly_formatted ( void ) { return 0 ; }\n")
    elif rule == "journal":
        append("consumers/projector/main.c", '/* SELECT * FROM oss.journal */\n')
    elif rule == "kafka":
        append("consumers/projector/main.c", "static void planted(void) { rd_kafka_consumer_poll(0, 0); }\n")
    elif rule == "pg_connect":
        append("consumers/audit/main.c", 'static void planted(void) { PQconnectdb(""); }\n')
    elif rule == "core":
        path = os.path.join(tmp, "src/core/error.h")
        body = open(path).read()
        with open(path, "w") as f:
            f.write('#include "journal/journal.h"\n' + body)
    elif rule == "migrations":
        open(os.path.join(tmp, "infra/sql/010_planted_duplicate.sql"), "w").close()
    elif rule == "circles":
        os.makedirs(os.path.join(tmp, "src/core"), exist_ok=True)
        append("src/core/error.c", "\nvoid\noss_planted_a(void) { oss_planted_b(); }\n")
        append("src/core/nik.c", "\nvoid\noss_planted_b(void) { oss_planted_a(); }\n")
    elif rule == "api_link":
        d = os.path.join(build_copy, "consumers/CMakeFiles/oss-planted.dir")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "link.txt"), "w") as f:
            f.write("/usr/bin/cc main.c.o -o oss-planted liboss_api_lib.a\n")


def selftest(root, build):
    failures = 0
    for rule in RULES:
        with tempfile.TemporaryDirectory() as tmp:
            for d in PROD + (".clang-format",):
                s = os.path.join(root, d)
                if os.path.isdir(s):
                    shutil.copytree(s, os.path.join(tmp, d), symlinks=True)
                elif os.path.exists(s):
                    shutil.copy(s, tmp)
            build_copy = os.path.join(tmp, "build")
            os.makedirs(build_copy)
            before = set(RULES[rule](tmp, build_copy if rule == "api_link" else None))
            plant(rule, tmp, build_copy)
            if rule == "core" and build:
                # the build's own compiler line, on the planted header: the
                # probe compiles the real source against the include root,
                # so plant in the file the probe compiles instead
                after = RULES[rule](tmp, None)
                after += core_build_refuses(root, build)
            else:
                after = RULES[rule](tmp, build_copy if rule == "api_link" else None)
            new = [a for a in after if a not in before]
            caught = bool(new)
            print(f"{'ok  ' if caught else 'FAIL'} {rule}: a planted violation "
                  f"{'is' if caught else 'is NOT'} reported"
                  + (f" ({new[0].splitlines()[0]})" if caught else ""))
            failures += 0 if caught else 1
    # the build's include root refuses journal/journal.h in a core file
    if build:
        r = core_build_refuses(root, build)
        print(f"{'FAIL' if r else 'ok  '} core build: a core file including "
              f"journal/journal.h does not compile{': ' + r[0] if r else ''}")
        failures += 1 if r else 0
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rule", nargs="?", choices=sorted(RULES))
    ap.add_argument("--root", default=os.environ.get("OSS_SOURCE_DIR") or
                    os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--build", default=os.environ.get("OSS_BUILD_DIR"))
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    if a.selftest:
        sys.exit(1 if selftest(root, a.build) else 0)
    if not a.rule:
        ap.error("name a rule or --selftest")
    bad = RULES[a.rule](root, a.build)
    for b in bad:
        print(b)
    print(f"{a.rule}: {'holds' if not bad else f'{len(bad)} violation(s)'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
