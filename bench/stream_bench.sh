#!/usr/bin/env bash
# Live events benchmark (issue 12; docs/STREAMING.md). Starts redis-server,
# `encore serve` (LMDB store) and `encore stream`, then bench/stream_bench.cc:
# a producer at RATE events/s into the Redis stream, LOAD_THREADS threads
# GETting random users' lists, and probes measuring event-to-served latency
# (before the XADD of a new user's first event -> the GET that returns a
# list). Then the consumer's sustained rate: BURST events appended at once,
# timed until the consumer group's lag and pending entries reach 0.
# STORE=redis puts the serving store (snapshot and live payloads) in the same
# redis-server instead of an LMDB directory: the server then answers live
# lookups from its live cache (docs/SERVING.md), so each probe also measures
# the invalidation of a negatively cached user.
# Usage: bench/stream_bench.sh   (RATE=2000 SECONDS_=20 LOAD_THREADS=1 BURST=100000 SYNC=disk|process
#                                 STORE=lmdb|redis)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-2000}"
SECONDS_="${SECONDS_:-20}"
LOAD_THREADS="${LOAD_THREADS:-1}"
BURST="${BURST:-100000}"
SYNC="${SYNC:-disk}"
STORE="${STORE:-lmdb}"
ENCORE="$PWD/build/release/encore"
BENCH="$PWD/build/release/bench/stream_bench"
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "stream_bench: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x "$ENCORE" ] && [ -x "$BENCH" ] || { echo "stream_bench: build encore and stream_bench first (ninja -C build/release encore stream_bench)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/encore-stream-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }

# Data and model: 20k users, 2k items, 300k retail events; ials 32 factors.
USERS=20000 ITEMS=2000
"$ENCORE" generate --profile retail --users $USERS --items $ITEMS --rows 300000 --seed 7 --out "$W/data" --quiet
"$ENCORE" train --model ials --input "$W/data/events.csv" --weights view=1,cart=3,wishlist=5,purchase=10 \
  --factors 32 --iterations 10 --out "$W/model.bin" --quiet
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" --daemonize no >/dev/null &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
REDIS="redis://127.0.0.1:$RP/0"
case "$STORE" in
  lmdb) STORE_URI="$W/store" ;;
  redis) STORE_URI="redis://127.0.0.1:$RP/1"; [ "$SYNC" = disk ] || { echo "stream_bench: SYNC applies to LMDB only" >&2; exit 1; } ;;
  *) echo "stream_bench: STORE must be lmdb or redis" >&2; exit 1 ;;
esac
"$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "$STORE_URI" --quiet
HP=$(free_port)
"$ENCORE" serve --store "$STORE_URI" --port "$HP" --threads 1 2>"$W/serve.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$HP/readyz"
"$ENCORE" stream --store "$STORE_URI" --redis "$REDIS" --stream events --group bench \
  --weights view=1,cart=3,wishlist=5,purchase=10 --sync "$SYNC" --quiet 2>"$W/stream.log" &
STREAM_PID=$!
PIDS+=($STREAM_PID)
sleep 1

echo "== store $STORE_URI, consumer --sync $SYNC"
echo "== steady rate $RATE events/s for ${SECONDS_}s, serving under load ($LOAD_THREADS GET threads)"
"$BENCH" --redis "$REDIS" --stream events --port "$HP" --rate "$RATE" --seconds "$SECONDS_" \
  --users $USERS --items $ITEMS --load-threads "$LOAD_THREADS"
curl -s "http://127.0.0.1:$HP/metrics" | grep -E "^encore_(stream_(events_applied_total|event_to_served_seconds_(count|sum)|consumer_lag)|live_cache_[a-z_]*)" || true

echo "== sustained: $BURST events appended at once, time from the first append until lag and pending are 0"
START=$(date +%s.%N)
python3 - "$RP" "$BURST" <<'PY'
import socket, sys, random
port, n = int(sys.argv[1]), int(sys.argv[2])
random.seed(3)
s = socket.create_connection(("127.0.0.1", port))
def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
buf = b"".join(cmd("XADD", "events", "*", "user", "u%05d" % random.randrange(20000),
                   "item", "i%04d" % random.randrange(2000), "event",
                   random.choice(["view", "view", "cart", "purchase"])) for _ in range(n))
s.sendall(buf)
got = b""
while got.count(b"\r\n") < n: got += s.recv(1 << 20)
PY
while :; do
  INFO=$(redis-cli -p "$RP" xinfo groups events | tr '\n' ' ')
  LAG=$(echo "$INFO" | sed -E 's/.*lag ([0-9-]+).*/\1/')
  PEND=$(echo "$INFO" | sed -E 's/.*pending ([0-9]+).*/\1/')
  [ "$LAG" = "0" ] && [ "$PEND" = "0" ] && break
  sleep 0.05
done
END=$(date +%s.%N)
python3 -c "print('consumed %d events in %.2f s: %.0f events/s' % ($BURST, $END-$START, $BURST/($END-$START)))"
kill -TERM $STREAM_PID; wait $STREAM_PID 2>/dev/null || true
tail -1 "$W/stream.log"
