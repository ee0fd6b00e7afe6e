#!/usr/bin/env bash
# Soak test (issue 16, item 9): encore serve under steady wrk load for
# DURATION seconds while a new snapshot is published every PUBLISH_EVERY
# seconds (alternating two models trained with different seeds, so every
# publish changes the payloads), with --keep 3 pruning as it goes.
# Reports the server's memory (RSS sampled every SAMPLE seconds), the
# publishes and their times, wrk's throughput and latency, and every answer
# that was not 200, with the 5xx counted apart. Requests spread over all
# users (a fixed shuffled list), plus UNKNOWN_PERCENT% (default 5) requests
# for unknown users, a new id each time (404), and 5% fold-in POSTs.
# Usage: bench/soak.sh   (DURATION=600 PUBLISH_EVERY=30 SAMPLE=5 STORE=lmdb|redis
#                         SERVER_THREADS=2 CONNECTIONS=32 UNKNOWN_PERCENT=5
#                         SERVE_ARGS="--cache-mb 8" OUT=file.csv ENCORE=binary)
# Exit status 1 when any 5xx or socket error was seen.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-600}"
PUBLISH_EVERY="${PUBLISH_EVERY:-30}"
SAMPLE="${SAMPLE:-5}"
STORE="${STORE:-lmdb}"
SERVER_THREADS="${SERVER_THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
UNKNOWN_PERCENT="${UNKNOWN_PERCENT:-5}"
SERVE_ARGS="${SERVE_ARGS:-}"  # more flags for encore serve, e.g. smaller caches
ENCORE="${ENCORE:-$PWD/build/release/encore}"   # a copy lets you rebuild meanwhile
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "soak: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ "$STORE" = redis ] && { command -v redis-server >/dev/null || { echo "soak: redis-server missing" >&2; exit 1; }; }
[ -x "$ENCORE" ] || { echo "soak: build first (scripts/dev.sh build)" >&2; exit 1; }

W=$(mktemp -d /tmp/encore-soak.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

echo "soak: data and two models (20k users, 5k items, 500k events; ials 32 factors)" >&2
"$ENCORE" generate --profile retail --users 20000 --items 5000 --rows 500000 --seed 7 --out "$W/data" --quiet
for seed in 1 2; do
  "$ENCORE" train --model ials --input "$W/data/events.csv" --weights view=3,cart=10,wishlist=30,purchase=40 \
    --factors 32 --iterations 5 --seed "$seed" --out "$W/model$seed.bin" --quiet
done
if [ "$STORE" = redis ]; then
  RP=$(free_port)
  redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --daemonize no >/dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
  URI="redis://127.0.0.1:$RP/0"
else
  URI="$W/store"
fi
publish() {  # model number -> seconds taken
  local t0 t1
  t0=$(date +%s.%N)
  "$ENCORE" publish --model-file "$W/model$1.bin" --n 20 --similar-n 10 --store "$URI" --keep 3 --quiet >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
publish 1 >/dev/null
SP=$(free_port)
"$ENCORE" serve --store "$URI" --port "$SP" --threads "$SERVER_THREADS" --poll-ms 500 $SERVE_ARGS 2>"$W/serve.log" &
SERVER=$!
PIDS+=($SERVER)
wait_http "http://127.0.0.1:$SP/readyz"

# Request mix: every user once in a shuffled order (cycled), UNKNOWN_PERCENT%
# unknown users, 5% fold-in POSTs of three items; wrk counts answers by status.
python3 - "$W/data/events.csv" "$W/soak.lua" "$UNKNOWN_PERCENT" <<'PY'
import csv, json, random, sys, urllib.parse
users, items = [], []
seen_u, seen_i = set(), set()
for row in csv.DictReader(open(sys.argv[1])):
    if row["user"] not in seen_u: seen_u.add(row["user"]); users.append(row["user"])
    if row["item"] not in seen_i: seen_i.add(row["item"]); items.append(row["item"])
random.seed(5); random.shuffle(users)
q = lambda s: urllib.parse.quote(s, safe="")
paths = ["/v1/users/%s/recommendations" % q(u) for u in users]
with open(sys.argv[2], "w") as f:
    f.write("local paths = {%s}\n" % ",".join(json.dumps(p) for p in paths))
    f.write("local items = {%s}\n" % ",".join(json.dumps(i) for i in items[:500]))
    f.write("local unknown_percent = %d\n" % int(sys.argv[3]))
    f.write(r'''
-- codes is a global of each thread's Lua state: done() reads it with t:get.
codes = {}
local counter = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counter = math.random(#paths) end
function request()
  counter = counter + 1
  local r = counter % 100
  if r < unknown_percent then
    return wrk.format("GET", "/v1/users/nobody-" .. counter .. "/recommendations")
  elseif r < unknown_percent + 5 then
    local body = string.format('{"items": ["%s", "%s", "%s"], "limit": 10}',
      items[(counter % #items) + 1], items[((counter * 7) % #items) + 1],
      items[((counter * 13) % #items) + 1])
    return wrk.format("POST", "/v1/recommendations", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes") or {}) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d %d\n", k, v)) end
end
''')
PY

rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
echo "t_s,rss_kb,event" > "$W/rss.csv"
echo "soak: ${DURATION}s of wrk -t2 -c$CONNECTIONS against encore serve ($STORE store, $SERVER_THREADS threads), publish every ${PUBLISH_EVERY}s" >&2
T0=$(date +%s)
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s --latency -s "$W/soak.lua" "http://127.0.0.1:$SP" > "$W/wrk.txt" 2>&1 &
WRK=$!
PIDS+=($WRK)
next_publish=$PUBLISH_EVERY
model=2
publishes=0
: > "$W/publish.txt"
while kill -0 "$WRK" 2>/dev/null; do
  sleep "$SAMPLE"
  t=$(( $(date +%s) - T0 ))
  event=""
  if [ "$t" -ge "$next_publish" ] && [ "$t" -lt "$DURATION" ]; then
    s=$(publish "$model")
    publishes=$((publishes + 1))
    echo "$t $model $s" >> "$W/publish.txt"
    event="publish model$model ${s}s"
    model=$((3 - model))
    next_publish=$((next_publish + PUBLISH_EVERY))
  fi
  kill -0 "$SERVER" 2>/dev/null || { echo "soak: the server died; see its log:" >&2; tail "$W/serve.log" >&2; exit 1; }
  echo "$t,$(rss),$event" >> "$W/rss.csv"
done
wait "$WRK" || true
SNAP=$(curl -sf "http://127.0.0.1:$SP/v1/info" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("snapshot", "?"))' || echo "?")
[ -n "${OUT:-}" ] && cp "$W/rss.csv" "$OUT"
# What the caches hold at the end (bounded by --cache-mb and --live-cache-mb).
curl -sf "http://127.0.0.1:$SP/metrics" | grep -E '^encore_(payload|live)_cache_(bytes|entries) ' |
  sed 's/^/at the end: /' || true

python3 - "$W/wrk.txt" "$W/rss.csv" "$W/publish.txt" "$SNAP" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rows = [l.strip().split(",", 2) for l in open(sys.argv[2]).readlines()[1:]]
pubs = [l.split() for l in open(sys.argv[3]) if l.strip()]
def dur(s):
    v, unit = float(re.match(r"([\d.]+)", s).group(1)), re.match(r"[\d.]+(\w+)", s).group(1)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]
reqs = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = dur(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1))
p99 = dur(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
codes = {int(a): int(b) for a, b in re.findall(r"^status (\d+) (\d+)$", text, re.M)}
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
sock_total = sum(int(x) for x in sock.groups()) if sock else 0
fivexx = sum(v for k, v in codes.items() if k >= 500)
rss = [(int(t), int(k)) for t, k, _ in rows if k]
mb = lambda kb: kb / 1024
print(f"requests {reqs} ({rps:.0f}/s), p50 {p50:.2f} ms, p99 {p99:.2f} ms")
print("answers by status (200 lists, 404 for unknown users is the expected answer to UNKNOWN_PERCENT% of requests): " +
      ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
print(f"5xx: {fivexx}; socket errors: {sock_total}" + (f" ({sock.group(0)})" if sock else ""))
print(f"publishes: {len(pubs)}, seconds each: min {min(float(p[2]) for p in pubs):.2f} "
      f"max {max(float(p[2]) for p in pubs):.2f}; snapshot served at the end: {sys.argv[4]}" if pubs else "publishes: 0")
if rss:
    first = [k for t, k in rss if t <= 60] or [rss[0][1]]
    last = [k for t, k in rss if t >= rss[-1][0] - 60]
    print(f"RSS MB: first minute max {mb(max(first)):.1f}, overall min {mb(min(k for _, k in rss)):.1f} "
          f"max {mb(max(k for _, k in rss)):.1f}, last minute max {mb(max(last)):.1f}")
    # Least-squares slope over the samples after the first minute.
    pts = [(t, k) for t, k in rss if t > 60] or rss
    n = len(pts)
    if n >= 2:
        mt = sum(t for t, _ in pts) / n
        mk = sum(k for _, k in pts) / n
        den = sum((t - mt) ** 2 for t, _ in pts)
        slope = sum((t - mt) * (k - mk) for t, k in pts) / den if den else 0
        print(f"RSS slope after the first minute: {slope * 60 / 1024:+.2f} MB/min over {n} samples")
    print("RSS by minute (MB, max of the samples): " +
          " ".join(f"{mb(max(k for t, k in rss if t // 60 == m)):.0f}"
                   for m in sorted({t // 60 for t, _ in rss})))
sys.exit(1 if fivexx or sock_total else 0)
PY
