#!/usr/bin/env bash
# Serving benchmark (issue: serving). wrk on loopback, 2 threads, 64
# connections, against:
#   nginx     the same user payload bytes as a static file (the reference);
#   lmdb      encore serve on an LMDB snapshot, GET /v1/users/U/recommendations;
#   lmdb-1t   the same with one server thread (leaves wrk a core of its own);
#   redis     encore serve on a Redis store (redis-server started here);
#   foldin    POST /v1/recommendations (fold-in of 5 items, limit 20), LMDB,
#             on the default compute pool (--compute-threads 1);
#   foldin-pool  the same with --compute-threads SERVER_THREADS (as many
#             fold-in threads as serving threads, which is what a build
#             from before the pool did on its serving threads).
# Rounds alternate between the targets so machine noise hits them alike;
# the summary gives medians over ROUNDS and the ratios to nginx.
# Targets: throughput >= 0.7x nginx, p99 latency <= 1.5x nginx.
# With OLD_ENCORE=/path/to/an/older/encore the rounds also run
#   lmdb-old  the older binary's serve (its own train + publish of the same data)
#   foldin-old  the older binary's fold-in
# so a change can be measured before/after in one run (issue 10 did this).
# Usage: bench/serve_bench.sh   (ROUNDS=3 DURATION=10 SERVER_THREADS=2 OLD_ENCORE=)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
SERVER_THREADS="${SERVER_THREADS:-2}"
ENCORE="$PWD/build/release/encore"
OLD_ENCORE="${OLD_ENCORE:-}"
if [ -n "$OLD_ENCORE" ] && [ ! -x "$OLD_ENCORE" ]; then
  echo "serve_bench: OLD_ENCORE=$OLD_ENCORE is not an executable" >&2; exit 1
fi
for tool in wrk nginx redis-server curl; do
  command -v "$tool" >/dev/null || { echo "serve_bench: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x "$ENCORE" ] || { echo "serve_bench: build first (scripts/dev.sh build)" >&2; exit 1; }

W=$(mktemp -d /tmp/encore-serve-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

# Data and model: 20k users, 5k items, 500k retail events; ials 32 factors.
"$ENCORE" generate --profile retail --users 20000 --items 5000 --rows 500000 --seed 7 --out "$W/data" --quiet
"$ENCORE" train --model ials --input "$W/data/events.csv" --weights view=3,cart=10,wishlist=30,purchase=40 \
  --factors 32 --iterations 10 --out "$W/model.bin" --quiet
"$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "$W/store" --quiet

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --daemonize no >/dev/null &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "redis://127.0.0.1:$RP/0" --quiet

declare -A PID_OF  # target -> the server process, for its CPU time per request
LP=$(free_port); "$ENCORE" serve --store "$W/store" --port "$LP" --threads "$SERVER_THREADS" 2>"$W/lmdb.log" &
PIDS+=($!); PID_OF[lmdb]=$!; PID_OF[foldin]=$!
OP=$(free_port); "$ENCORE" serve --store "$W/store" --port "$OP" --threads 1 2>"$W/lmdb1.log" &
PIDS+=($!); PID_OF[lmdb-1t]=$!
FP=$(free_port); "$ENCORE" serve --store "$W/store" --port "$FP" --threads "$SERVER_THREADS" --compute-threads "$SERVER_THREADS" 2>"$W/lmdb-pool.log" &
PIDS+=($!); PID_OF[foldin-pool]=$!
XP=$(free_port); "$ENCORE" serve --store "redis://127.0.0.1:$RP/0" --port "$XP" --threads "$SERVER_THREADS" 2>"$W/redis.log" &
PIDS+=($!); PID_OF[redis]=$!
wait_http "http://127.0.0.1:$LP/readyz"; wait_http "http://127.0.0.1:$OP/readyz"; wait_http "http://127.0.0.1:$XP/readyz"; wait_http "http://127.0.0.1:$FP/readyz"
TARGETS=(nginx lmdb lmdb-1t redis foldin foldin-pool)
if [ -n "$OLD_ENCORE" ]; then
  # The older binary trains and publishes the same data with the same flags
  # into a store of its own (file formats may differ between versions).
  "$OLD_ENCORE" train --model ials --input "$W/data/events.csv" --weights view=3,cart=10,wishlist=30,purchase=40 \
    --factors 32 --iterations 10 --out "$W/model-old.bin" --quiet
  "$OLD_ENCORE" publish --model-file "$W/model-old.bin" --n 20 --store "$W/store-old" --quiet
  QP=$(free_port); "$OLD_ENCORE" serve --store "$W/store-old" --port "$QP" --threads "$SERVER_THREADS" 2>"$W/lmdb-old.log" &
  PIDS+=($!); PID_OF[lmdb-old]=$!; PID_OF[foldin-old]=$!
  wait_http "http://127.0.0.1:$QP/readyz"
  TARGETS+=(lmdb-old foldin-old)
fi

# One user's payload, and the same bytes as a static file for nginx.
USER=$(awk -F, 'NR==2 {print $1}' "$W/data/events.csv")
USER_ENC=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$USER")
PATH_USER="/v1/users/$USER_ENC/recommendations"
mkdir -p "$W/www"
curl -sf "http://127.0.0.1:$LP$PATH_USER" > "$W/www/payload.json"
BYTES=$(wc -c < "$W/www/payload.json")
NP=$(free_port)
cat > "$W/nginx.conf" <<NGINX
worker_processes $SERVER_THREADS;
daemon off;
master_process on;
user root;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60;
  default_type application/json;
  server {
    listen 127.0.0.1:$NP;
    root $W/www;
  }
}
NGINX
nginx -c "$W/nginx.conf" -p "$W" &
PIDS+=($!)
wait_http "http://127.0.0.1:$NP/payload.json"

# Fold-in body: five of the user's items.
ITEMS=$(python3 - "$W/data/events.csv" "$USER" <<'PY'
import csv, json, sys
items = []
for row in csv.DictReader(open(sys.argv[1])):
    if row["user"] == sys.argv[2] and row["item"] not in items:
        items.append(row["item"])
print(json.dumps(items[:5]))
PY
)
cat > "$W/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"items": $ITEMS, "limit": 20}'
LUA

# CPU seconds (user + system) a process has used so far; 0 for none.
cpu_seconds() {
  [ -n "${1:-}" ] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

# The server's CPU time per request is reported beside req/s: on a shared,
# noisy machine it moves far less than throughput does, so it is the
# figure to compare two builds by.
run_wrk() {  # name url [script]
  local name=$1 url=$2 extra=() pid="${PID_OF[$1]:-}" cpu0 cpu1
  [ $# -ge 3 ] && extra=(-s "$3")
  cpu0=$(cpu_seconds "$pid")
  wrk -t2 -c64 -d"${DURATION}s" --latency "${extra[@]}" "$url" > "$W/wrk-$name-$r.txt"
  cpu1=$(cpu_seconds "$pid")
  CPU_USED=$(python3 -c "print($cpu1 - $cpu0)") HAS_PID="$pid" \
    python3 - "$W/wrk-$name-$r.txt" "$name" >> "$W/results.jsonl" <<'PY'
import json, os, re, sys
text = open(sys.argv[1]).read()
def dur(s):
    v, unit = float(re.match(r"([\d.]+)", s).group(1)), re.match(r"[\d.]+(\w+)", s).group(1)
    return v * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p99 = dur(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
p50 = dur(re.search(r"^\s*50%\s+(\S+)", text, re.M).group(1))
m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errs = int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if m: errs += sum(int(x) for x in m.groups())
total = int(re.search(r"(\d+) requests in", text).group(1))
cpu_us = float(os.environ["CPU_USED"]) * 1e6 / total if os.environ["HAS_PID"] and total else None
print(json.dumps({"name": sys.argv[2], "rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errs,
                  "cpu_us": cpu_us}))
PY
}

for r in $(seq "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$NP/payload.json"
  run_wrk lmdb "http://127.0.0.1:$LP$PATH_USER"
  run_wrk lmdb-1t "http://127.0.0.1:$OP$PATH_USER"
  run_wrk redis "http://127.0.0.1:$XP$PATH_USER"
  run_wrk foldin "http://127.0.0.1:$LP/v1/recommendations" "$W/post.lua"
  run_wrk foldin-pool "http://127.0.0.1:$FP/v1/recommendations" "$W/post.lua"
  if [ -n "$OLD_ENCORE" ]; then
    run_wrk lmdb-old "http://127.0.0.1:$QP$PATH_USER"
    run_wrk foldin-old "http://127.0.0.1:$QP/v1/recommendations" "$W/post.lua"
  fi
done

echo "payload: $BYTES bytes (20 recommendations); wrk -t2 -c64 -d${DURATION}s; server threads $SERVER_THREADS; rounds $ROUNDS"
python3 - "$W/results.jsonl" "${TARGETS[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
targets = sys.argv[2:]
by = {}
for r in rows: by.setdefault(r["name"], []).append(r)
med = lambda n, k: statistics.median(r[k] for r in by[n])
print(f"{'target':11} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'rps/nginx':>10} {'p99/nginx':>10} {'CPU us/req':>10}  rounds req/s")
for n in targets:
    rps, p99 = med(n, "rps"), med(n, "p99_ms")
    cpu = [r["cpu_us"] for r in by[n] if r.get("cpu_us") is not None]
    cpu_text = f"{statistics.median(cpu):10.1f}" if cpu else f"{'-':>10}"
    print(f"{n:11} {rps:10.0f} {med(n,'p50_ms'):8.2f} {p99:8.2f} {sum(r['errors'] for r in by[n]):7d} "
          f"{rps/med('nginx','rps'):10.2f} {p99/med('nginx','p99_ms'):10.2f} {cpu_text}  "
          + " ".join(f"{r['rps']:.0f}" for r in by[n]))
PY
