#!/usr/bin/env bash
# The retail benchmark (issue 11, "Done when"; docs/BENCHMARKS.md):
#   1. data: `encore generate --profile fashion` (MEMBERS members, PRODUCTS
#      products, EVENTS events), timed on its own (not part of the chain);
#   2. the chain: `encore run` of the ruelala pipeline
#      (examples/ruelala_personalization.toml with its 25 segments, reading
#      the generated files instead of generating) from raw events to the six
#      feeds and the published store, under /usr/bin/time -v (wall time, peak
#      resident memory); target under 60 s;
#   3. payload size: every member's whole payload fetched by GET from
#      `encore serve` (the bytes a client receives): mean, p50, p99, max;
#   4. serving: one member's whole payload by GET under wrk, members drawn
#      Zipf-like (s = ZIPF_S) or uniformly (ZIPF_S=0), from `encore serve`
#      and from nginx serving the same bytes as static files; rounds
#      alternate so machine noise hits both alike; medians. Targets: p99
#      within 1.5x of nginx's, throughput at least 0.7x nginx's.
# Usage: bench/retail_bench.sh  (MEMBERS=100000 PRODUCTS=20000 EVENTS=5000000
#        ROUNDS=3 DURATION=10 SERVER_THREADS=2 ZIPF_S=1.0 SEGMENT_EVAL=false)
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS="${MEMBERS:-100000}"
PRODUCTS="${PRODUCTS:-20000}"
EVENTS="${EVENTS:-5000000}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
SERVER_THREADS="${SERVER_THREADS:-2}"
ZIPF_S="${ZIPF_S:-1.0}"
SEGMENT_EVAL="${SEGMENT_EVAL:-false}"
ENCORE="$PWD/build/release/encore"
PY=/usr/bin/python3
for tool in wrk nginx curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "retail_bench: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x "$ENCORE" ] || { echo "retail_bench: build first (scripts/dev.sh build)" >&2; exit 1; }

W=$(mktemp -d /tmp/encore-retail-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
. bench/lib/serving.sh
echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "retail_bench: generating $MEMBERS members, $PRODUCTS products, $EVENTS events" >&2
t0=$(date +%s.%N)
"$ENCORE" generate --profile fashion --users "$MEMBERS" --items "$PRODUCTS" --rows "$EVENTS" \
  --seed 7 --out "$W/data" --quiet
t1=$(date +%s.%N)
echo "data: generate --profile fashion --users $MEMBERS --items $PRODUCTS --rows $EVENTS: $(ls -l "$W/data/events.csv" | awk '{print $5}') bytes of events, generated in $($PY -c "print(f'{$t1-$t0:.1f}')") s (not part of the chain)"

# The example pipeline, reading the generated files; the segment evaluation
# (which trains every model twice) only when SEGMENT_EVAL=true.
$PY - "$PWD/examples/ruelala_personalization.toml" "$W" "$SEGMENT_EVAL" <<'PY'
import re, sys
src, w, evaluate = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(src).read()
text = re.sub(r'^generate = .*$', f'path = "{w}/data/events.csv"', text, count=1, flags=re.M)
text = re.sub(r'^# path = "catalog.csv".*$', f'path = "{w}/data/catalog.csv"', text, count=1, flags=re.M)
text = re.sub(r'^evaluate = true$', f'evaluate = {evaluate}', text, count=1, flags=re.M)
text = re.sub(r'^workdir = .*$', f'workdir = "{w}/run"', text, count=1, flags=re.M)
assert f'{w}/data/events.csv' in text and f'{w}/data/catalog.csv' in text
open(f"{w}/retail.toml", "w").write(text)
PY

echo "retail_bench: the chain (encore run) under /usr/bin/time -v" >&2
/usr/bin/time -v "$ENCORE" run "$W/retail.toml" > "$W/run.out" 2> "$W/run.err"
wall=$(grep 'Elapsed (wall clock)' "$W/run.err" | awk '{print $NF}')
rss=$(grep 'Maximum resident set size' "$W/run.err" | awk '{print $NF}')
echo "chain: encore run (ruelala pipeline, 5x5 segments + the default one, segment evaluation $SEGMENT_EVAL): wall $wall, peak RSS $((rss / 1024)) MiB, load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E '^\[|s\)$' "$W/run.err" | grep -v Command | sed 's/^/  /' | head -40 || true
cat "$W/run.out" | sed 's/^/  /'

SP=$(free_port)
"$ENCORE" serve --store "$W/run/store" --port "$SP" --threads "$SERVER_THREADS" 2>"$W/serve.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$SP/readyz"

echo "retail_bench: every member's payload by GET (sizes; nginx's static files)" >&2
mkdir -p "$W/www/u"
$PY - "$W" "$SP" "$ZIPF_S" <<'PY'
import csv, http.client, os, random, re, statistics, sys, urllib.parse
w, port, s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
members = [row["member"] for row in csv.DictReader(open(os.path.join(w, "data/members.csv")))]
conn = http.client.HTTPConnection("127.0.0.1", port)
sizes, kept, fallback = [], [], 0
for m in members:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", m): continue  # plain file names only
    conn.request("GET", "/v1/users/%s/recommendations" % urllib.parse.quote(m, safe=""))
    r = conn.getresponse(); body = r.read()
    if r.status != 200: continue
    if b'"fallback":"popular"' in body[:200]: fallback += 1
    sizes.append(len(body))
    open(os.path.join(w, "www/u", m + ".json"), "wb").write(body)
    kept.append(m)
sizes.sort()
q = lambda p: sizes[min(len(sizes) - 1, int(p * len(sizes)))]
print(f"payloads: {len(sizes)} members ({fallback} answered with the popular fallback): "
      f"mean {statistics.mean(sizes):.0f} B, p50 {q(0.5)} B, p99 {q(0.99)} B, max {sizes[-1]} B, "
      f"total {sum(sizes) / 2**20:.0f} MiB")
rng = random.Random(7)
rng.shuffle(kept)
weights = [1.0 / (r + 1) ** s for r in range(len(kept))]
sample = rng.choices(kept, weights=weights, k=200000)
with open(os.path.join(w, "paths-encore.txt"), "w") as f:
    for m in sample: f.write("/v1/users/%s/recommendations\n" % m)
with open(os.path.join(w, "paths-nginx.txt"), "w") as f:
    for m in sample: f.write("/u/%s.json\n" % m)
top = set(kept[:100])
print(f"request mix: Zipf s={s} over {len(kept)} members: 200,000 requests, "
      f"{len(set(sample))} distinct members, "
      f"{sum(1 for m in sample if m in top) / 2000:.1f}% to the 100 most requested")
PY
write_mix_lua
NP=$(free_port)
start_nginx "$NP" "$SERVER_THREADS" "u/$(ls "$W/www/u" | head -1)"

get_mix() {  # name base-url paths
  MIX_PATHS="$3" wrk -t2 -c64 -d"${DURATION}s" --latency -s "$W/mix.lua" "$2" > "$W/wrk-$1-$r.txt"
  parse_wrk "$W/wrk-$1-$r.txt" "$1"
}
echo "retail_bench: $ROUNDS rounds of ${DURATION}s per target" >&2
for r in $(seq "$ROUNDS"); do
  get_mix nginx "http://127.0.0.1:$NP" "$W/paths-nginx.txt"
  get_mix encore "http://127.0.0.1:$SP" "$W/paths-encore.txt"
done
echo "serving: wrk -t2 -c64 -d${DURATION}s per round, $ROUNDS rounds alternating, server threads/nginx workers $SERVER_THREADS; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY - "$W/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["name"], []).append(r)
med = lambda n, k: statistics.median(r[k] for r in by[n])
print(f"{'target':8} {'req/s':>9} {'MiB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  rounds req/s | p99 ms")
for n in by:
    print(f"{n:8} {med(n,'rps'):9.0f} {med(n,'mib_s'):8.1f} {med(n,'p50_ms'):8.2f} {med(n,'p99_ms'):8.2f} "
          f"{sum(r['errors'] for r in by[n]):7d}  " + " ".join(f"{r['rps']:.0f}" for r in by[n]) +
          " | " + " ".join(f"{r['p99_ms']:.2f}" for r in by[n]))
rr = med("encore", "rps") / med("nginx", "rps")
pr = med("encore", "p99_ms") / med("nginx", "p99_ms")
print(f"encore/nginx: throughput {rr:.2f}x (target >= 0.70: {'met' if rr >= 0.7 else 'MISSED'}), "
      f"p99 {pr:.2f}x (target <= 1.50: {'met' if pr <= 1.5 else 'MISSED'})")
PY
