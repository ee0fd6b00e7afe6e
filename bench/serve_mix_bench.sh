#!/usr/bin/env bash
# Serving under a realistic mix (issue 16, item 8): many users requested with
# a Zipf-like popularity (s = ZIPF_S, default 1.0), not one user over and
# over, so caches and page faults see what real traffic gives them.
#   nginx        every user's payload as a static file (the reference);
#   lmdb         encore serve on an LMDB snapshot;
#   redis        encore serve on Redis with its payload cache and its live
#                payload cache (both the default; docs/SERVING.md);
#   redis-nolivecache  the same with --live-cache-mb 0 (every GET asks Redis
#                for a live payload: the default before the live cache);
#   redis-nocache  the same with --cache-mb 0 (every GET a Redis round trip);
#   redis-nolive   cache on and --live-payloads=false (no live-store lookup:
#                a cached GET never leaves the process);
#   get+foldin   GETs on LMDB while a second wrk posts fold-ins: the p99 of the
#                GETs with fold-in on its compute thread, against the same
#                mix on OLD_ENCORE (a build where fold-in ran on the serving
#                threads), when given.
# Rounds alternate so machine noise hits every target alike; medians.
# Usage: bench/serve_mix_bench.sh  (ROUNDS=3 DURATION=10 SERVER_THREADS=2
#        ZIPF_S=1.0 OLD_ENCORE=/path/to/older/encore)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
SERVER_THREADS="${SERVER_THREADS:-2}"
ZIPF_S="${ZIPF_S:-1.0}"
OLD_ENCORE="${OLD_ENCORE:-}"
ENCORE="$PWD/build/release/encore"
PY=/usr/bin/python3
for tool in wrk nginx redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "serve_mix_bench: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x "$ENCORE" ] || { echo "serve_mix_bench: build first (scripts/dev.sh build)" >&2; exit 1; }

W=$(mktemp -d /tmp/encore-serve-mix.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
. bench/lib/serving.sh

echo "serve_mix_bench: data, model, snapshots" >&2
"$ENCORE" generate --profile retail --users 20000 --items 5000 --rows 500000 --seed 7 --out "$W/data" --quiet
"$ENCORE" train --model ials --input "$W/data/events.csv" --weights view=3,cart=10,wishlist=30,purchase=40 \
  --factors 32 --iterations 10 --out "$W/model.bin" --quiet
"$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "$W/store" --quiet
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --daemonize no >/dev/null &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "redis://127.0.0.1:$RP/0" --quiet

serve() {  # binary store port log [flags...]
  local bin=$1 store=$2 port=$3 log=$4; shift 4
  "$bin" serve --store "$store" --port "$port" --threads "$SERVER_THREADS" "$@" 2>"$W/$log.log" &
  PIDS+=($!)
}
LP=$(free_port); serve "$ENCORE" "$W/store" "$LP" lmdb
XP=$(free_port); serve "$ENCORE" "redis://127.0.0.1:$RP/0" "$XP" redis
YP=$(free_port); serve "$ENCORE" "redis://127.0.0.1:$RP/0" "$YP" redis-nocache --cache-mb 0
ZP=$(free_port); serve "$ENCORE" "redis://127.0.0.1:$RP/0" "$ZP" redis-nolive --live-payloads=false
QP=$(free_port); serve "$ENCORE" "redis://127.0.0.1:$RP/0" "$QP" redis-nolivecache --live-cache-mb 0
for p in $LP $XP $YP $ZP $QP; do wait_http "http://127.0.0.1:$p/readyz"; done
if [ -n "$OLD_ENCORE" ]; then
  OP=$(free_port); serve "$OLD_ENCORE" "$W/store" "$OP" old-lmdb; wait_http "http://127.0.0.1:$OP/readyz"
fi

echo "serve_mix_bench: every user's payload as a static file for nginx; the request mix" >&2
mkdir -p "$W/www/u"
$PY - "$W" "$LP" "$ZIPF_S" <<'PY'
import csv, http.client, json, os, random, re, sys, urllib.parse
w, port, s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
users = []
seen = set()
for row in csv.DictReader(open(os.path.join(w, "data/events.csv"))):
    u = row["user"]
    if u not in seen:
        seen.add(u); users.append(u)
conn = http.client.HTTPConnection("127.0.0.1", port)
kept = []
for u in users:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", u): continue  # plain file names only
    conn.request("GET", "/v1/users/%s/recommendations" % urllib.parse.quote(u, safe=""))
    r = conn.getresponse(); body = r.read()
    if r.status != 200: continue
    open(os.path.join(w, "www/u", u + ".json"), "wb").write(body)
    kept.append(u)
# Zipf-like popularity over a random order of the users (rank r has weight 1/r^s).
rng = random.Random(7)
rng.shuffle(kept)
weights = [1.0 / (r + 1) ** s for r in range(len(kept))]
sample = rng.choices(kept, weights=weights, k=200000)
with open(os.path.join(w, "paths-encore.txt"), "w") as f:
    for u in sample: f.write("/v1/users/%s/recommendations\n" % u)
with open(os.path.join(w, "paths-nginx.txt"), "w") as f:
    for u in sample: f.write("/u/%s.json\n" % u)
distinct = len(set(sample))
top = sum(1 for u in sample if u in set(kept[:100]))
print(f"users {len(kept)}; requests in the mix 200000, distinct users {distinct}, "
      f"share of the 100 most popular {top / 2000:.1f}%", file=sys.stderr)
open(os.path.join(w, "mix.txt"), "w").write(
    f"{len(kept)} users, Zipf s={s}: 200,000 requests over {distinct} distinct users, "
    f"{top / 2000:.1f}% to the 100 most popular\n")
# Five items of some user for the fold-in body.
items = []
for row in csv.DictReader(open(os.path.join(w, "data/events.csv"))):
    if row["user"] == users[0] and row["item"] not in items: items.append(row["item"])
open(os.path.join(w, "post.lua"), "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    "wrk.body = '%s'\n" % json.dumps({"items": items[:5], "limit": 20}))
PY
write_mix_lua
NP=$(free_port)
start_nginx "$NP" "$SERVER_THREADS" "u/$(ls "$W/www/u" | head -1)"

get_mix() {  # name base-url paths
  MIX_PATHS="$3" wrk -t2 -c64 -d"${DURATION}s" --latency -s "$W/mix.lua" "$2" > "$W/wrk-$1-$r.txt"
  parse_wrk "$W/wrk-$1-$r.txt" "$1"
}
get_with_foldin() {  # name port: GETs (1 thread, 32 connections) while fold-ins run (1 thread, 16)
  wrk -t1 -c16 -d"$((DURATION + 2))s" --latency -s "$W/post.lua" "http://127.0.0.1:$2/v1/recommendations" \
    > "$W/wrk-$1-post-$r.txt" &
  local bg=$!
  sleep 1
  MIX_PATHS="$W/paths-encore.txt" wrk -t1 -c32 -d"${DURATION}s" --latency -s "$W/mix.lua" \
    "http://127.0.0.1:$2" > "$W/wrk-$1-$r.txt"
  wait $bg
  parse_wrk "$W/wrk-$1-$r.txt" "$1"
  parse_wrk "$W/wrk-$1-post-$r.txt" "$1-foldins"
}
get_alone() {  # name port: the same GET load without fold-ins
  MIX_PATHS="$W/paths-encore.txt" wrk -t1 -c32 -d"${DURATION}s" --latency -s "$W/mix.lua" \
    "http://127.0.0.1:$2" > "$W/wrk-$1-$r.txt"
  parse_wrk "$W/wrk-$1-$r.txt" "$1"
}

echo "serve_mix_bench: $ROUNDS rounds of ${DURATION}s per target" >&2
for r in $(seq "$ROUNDS"); do
  get_mix nginx "http://127.0.0.1:$NP" "$W/paths-nginx.txt"
  get_mix lmdb "http://127.0.0.1:$LP" "$W/paths-encore.txt"
  get_mix redis "http://127.0.0.1:$XP" "$W/paths-encore.txt"
  get_mix redis-nocache "http://127.0.0.1:$YP" "$W/paths-encore.txt"
  get_mix redis-nolive "http://127.0.0.1:$ZP" "$W/paths-encore.txt"
  get_mix redis-nolivecache "http://127.0.0.1:$QP" "$W/paths-encore.txt"
  get_alone get-alone "$LP"
  get_with_foldin get+foldin "$LP"
  if [ -n "$OLD_ENCORE" ]; then get_with_foldin old:get+foldin "$OP"; fi
done

cat "$W/mix.txt"
echo "wrk -t2 -c64 -d${DURATION}s for the GET mixes; get-alone / get+foldin: GETs wrk -t1 -c32 with (or without) fold-ins wrk -t1 -c16; server threads $SERVER_THREADS; rounds $ROUNDS"
grep -o 'encore_payload_cache_requests_total{result="[a-z]*"} [0-9]*' <(curl -s "http://127.0.0.1:$XP/metrics") | sed 's/^/redis cache: /' || true
grep -E '^encore_live_cache_(requests_total|connected|invalidations_total|flushes_total|entries)' <(curl -s "http://127.0.0.1:$XP/metrics") | sed 's/^/redis live cache: /' || true
$PY - "$W/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["name"], []).append(r)
med = lambda n, k: statistics.median(r[k] for r in by[n])
print(f"{'target':22} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'rps/nginx':>10}  rounds req/s")
for n in by:
    rps = med(n, "rps")
    print(f"{n:22} {rps:10.0f} {med(n,'p50_ms'):8.2f} {med(n,'p99_ms'):8.2f} {sum(r['errors'] for r in by[n]):7d} "
          f"{rps/med('nginx','rps'):10.2f}  " + " ".join(f"{r['rps']:.0f}" for r in by[n]))
PY
