#!/usr/bin/env bash
# e2e: GET /metrics of the running API ($OSS_API_URL from var/run.env) is
# Prometheus text format 0.0.4 (every line a comment or `name{labels} value`,
# TYPE before samples and once per family, counters named *_total, every
# histogram series with cumulative buckets ending in le="+Inf" equal to its
# _count, no duplicate series) and carries the pipeline gauges: relay lag,
# relay horizon age, projector lag, dead letters, the rebuild progress of
# oss.rebuild_progress (checked against the table), database up. How long a
# scrape takes is a benchmark figure (tests/bench/run, section metrics),
# never a pass/fail bound.
set -uo pipefail

src=${OSS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
keep_url=${OSS_API_URL:-}
run_env=${OSS_RUN_ENV:-$src/var/run.env}
if [[ ! -r $run_env ]]; then
    echo "FAIL: $run_env missing: start the stack with infra/run --detach" >&2
    exit 1
fi
# shellcheck disable=SC1090
source "$run_env"
[[ -n $keep_url ]] && OSS_API_URL=$keep_url
api=${OSS_API_URL:?OSS_API_URL unset}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# one request of each kind first, so that the HTTP families have samples
curl -s -m 5 -o /dev/null "$api/healthz"
curl -s -m 5 -o /dev/null "$api/v1/nothing"

out=$(curl -s -m 10 -o "$tmp/metrics" -w '%{http_code} %{content_type}' \
      "$api/metrics")
[[ $out == "200 text/plain; version=0.0.4"* ]] ||
    { echo "FAIL: /metrics answered: $out" >&2; exit 1; }

# the format, in one pass (prints "ok ..." lines or "FAIL ..." lines)
"$py" - "$tmp/metrics" >"$tmp/check" <<'EOF'
import math, re, sys
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(%s)(\{(?:%s(?:,%s)*,?)?\})? (\S+)(?: -?\d+)?$'
                    % (NAME, LABEL, LABEL))
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
bad = []
types, seen_samples, series = {}, set(), {}
text = open(sys.argv[1], encoding='utf-8').read()
if not text.endswith('\n'):
    bad.append('the text does not end with a newline')
for no, line in enumerate(text.split('\n')[:-1], 1):
    if line.startswith('#'):
        m = re.match(r'^# (HELP|TYPE) (%s)(?: (.*))?$' % NAME, line)
        if not m:
            continue  # a plain comment
        kind, name, rest = m.groups()
        if kind == 'TYPE':
            if rest not in ('counter', 'gauge', 'histogram', 'summary',
                            'untyped'):
                bad.append('line %d: bad TYPE %r' % (no, rest))
            if name in types:
                bad.append('line %d: second TYPE for %s' % (no, name))
            if name in seen_samples:
                bad.append('line %d: TYPE of %s after its samples' % (no, name))
            types[name] = rest
        continue
    m = SAMPLE.match(line)
    if not m:
        bad.append('line %d: not a sample: %r' % (no, line[:120]))
        continue
    name, labels, value = m.groups()
    try:
        v = float(value.replace('Inf', 'inf'))
    except ValueError:
        bad.append('line %d: bad value %r' % (no, value))
        continue
    lab = tuple(PAIR.findall(labels or ''))
    if len({k for k, _ in lab}) != len(lab):
        bad.append('line %d: repeated label' % no)
    fam = name
    for suf in ('_bucket', '_sum', '_count'):
        if name.endswith(suf) and types.get(name[:-len(suf)]) == 'histogram':
            fam = name[:-len(suf)]
    if fam not in types:
        bad.append('line %d: %s has no TYPE before it' % (no, name))
    seen_samples.add(fam)
    key = (name, lab)
    if key in series:
        bad.append('line %d: duplicate series %s%s' % (no, name, labels or ''))
    series[key] = v
    if types.get(fam) == 'counter' and (v < 0 or math.isnan(v)):
        bad.append('line %d: counter %s is %s' % (no, name, value))
for fam, t in types.items():
    if t == 'counter' and not fam.endswith('_total'):
        bad.append('counter %s does not end in _total' % fam)
    if t != 'histogram':
        continue
    groups = {}
    for (name, lab), v in series.items():
        if name == fam + '_bucket':
            rest = tuple(p for p in lab if p[0] != 'le')
            le = dict(lab).get('le')
            if le is None:
                bad.append('%s bucket without le' % fam)
                continue
            groups.setdefault(rest, []).append(
                (float(le.replace('Inf', 'inf')), v))
    if not groups:
        bad.append('histogram %s has no buckets' % fam)
    for rest, bs in groups.items():
        bs.sort()
        if bs[-1][0] != math.inf:
            bad.append('histogram %s%s has no le="+Inf" bucket' % (fam, rest))
            continue
        if any(b[1] > c[1] for b, c in zip(bs, bs[1:])):
            bad.append('histogram %s%s buckets are not cumulative' % (fam, rest))
        cnt = series.get((fam + '_count', rest))
        if cnt is None or (fam + '_sum', rest) not in series:
            bad.append('histogram %s%s lacks _sum or _count' % (fam, rest))
        elif cnt != bs[-1][1]:
            bad.append('histogram %s%s: +Inf bucket %s != count %s'
                       % (fam, rest, bs[-1][1], cnt))
    print('ok   histogram %s: %d series with +Inf, _sum, _count' %
          (fam, len(groups)))
for b in bad[:20]:
    print('FAIL ' + b)
print('ok   %d families, %d series parsed' % (len(types), len(series))
      if not bad else 'FAIL %d format errors' % len(bad))
# the values the shell checks further: NAME LABELS|- VALUE, one a line
with open(sys.argv[1] + '.flat', 'w') as f:
    for (name, lab), v in sorted(series.items()):
        f.write('%s %s %r\n' % (name, ','.join('%s="%s"' % p for p in lab)
                                 or '-', v))
EOF
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail "the format checker crashed"
grep '^ok' "$tmp/check"
while read -r l; do fail "${l#FAIL }"; done < <(grep '^FAIL' "$tmp/check")

# the families that must be there, with their type
for f in oss_http_requests_total:counter \
         oss_http_request_duration_seconds:histogram \
         oss_relay_lag_events:gauge oss_relay_horizon_age_seconds:gauge \
         oss_projector_lag_events:gauge oss_dead_letters:gauge \
         oss_notifier_lag_events:gauge \
         oss_rebuild_events_done:gauge oss_rebuild_events_total:gauge \
         oss_rebuild_rate_events_per_second:gauge \
         oss_rebuild_eta_seconds:gauge oss_api_database_up:gauge; do
    grep -qx "# TYPE ${f%%:*} ${f#*:}" "$tmp/metrics" ||
        fail "/metrics lacks '# TYPE ${f%%:*} ${f#*:}'"
done
for g in oss_relay_lag_events oss_relay_horizon_age_seconds \
         oss_projector_lag_events oss_dead_letters oss_notifier_lag_events; do
    v=$(awk -v n="$g" '$1 == n {print $3}' "$tmp/metrics.flat")
    [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "$g: no non-negative value ($v)"
done
grep -q '^oss_api_database_up - 1.0$' "$tmp/metrics.flat" ||
    fail "oss_api_database_up is not 1"
echo "ok   relay lag, horizon age, projector lag, dead letters present"

# the rebuild gauges mirror oss.rebuild_progress (one series per row); a
# rebuild running elsewhere may move the numbers: compare "done <= total"
# and the set of rows, and the totals of finished rebuilds exactly
rows=$(psql -X -qtA -F ' ' "$OSS_PG_URL" -c \
       "SELECT schema_name, state, total FROM oss.rebuild_progress
        ORDER BY 1") || fail "could not read oss.rebuild_progress"
nrows=0
while read -r schema state total; do
    [[ -z $schema ]] && continue
    nrows=$((nrows + 1))
    lab="schema=\"$schema\",state=\"$state\""
    for g in oss_rebuild_events_done oss_rebuild_events_total \
             oss_rebuild_rate_events_per_second oss_rebuild_eta_seconds; do
        awk -v n="$g" -v l="$lab" '$1 == n && $2 == l {f=1} END {exit !f}' \
            "$tmp/metrics.flat" ||
            [[ $state == running ]] || # the state may have moved on
            fail "$g{$lab} missing"
    done
    if [[ $state != running ]]; then
        got=$(awk -v l="$lab" '$1 == "oss_rebuild_events_total" && $2 == l {printf "%d", $3}' \
              "$tmp/metrics.flat")
        [[ $got == "$total" ]] ||
            fail "oss_rebuild_events_total{$lab} = $got, table says $total"
    fi
done <<<"$rows"
n=$(grep -c '^oss_rebuild_events_total{' "$tmp/metrics")
[[ $n -eq $nrows ]] || fail "$n rebuild series for $nrows rows of oss.rebuild_progress"
echo "ok   rebuild gauges: $nrows row(s) of oss.rebuild_progress"

# the projector lag is the Kafka lag of rm.positions, not a journal count
want=$(psql -X -qtA "$OSS_PG_URL" -c "SELECT coalesce(sum(greatest(
        high_watermark - next_offset, 0)), 0) FROM rm.positions
        WHERE name = 'projector'")
got=$(awk '$1 == "oss_projector_lag_events" {printf "%d", $3}' "$tmp/metrics.flat")
# both move while the projector works: only a large difference is an error
if [[ -n $want && -n $got ]] && (( got - want > 100000 || want - got > 100000 )); then
    fail "oss_projector_lag_events = $got, rm.positions says about $want"
fi
echo "ok   projector lag $got (rm.positions: $want)"

echo "$fails failures"
[[ $fails -eq 0 ]]
