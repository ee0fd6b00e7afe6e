#!/usr/bin/env bash
# Live events demo (docs/STREAMING.md): the click-and-purchase store.
# Generates a retail data set, trains ials and publishes it, then starts
# redis-server, `encore serve` (with POST /v1/events) and `encore stream`,
# plays retail events into Redis at RATE events/s in the background, and
# shows one shopper's list before and after their clicks and a purchase.
# Usage: examples/live/demo.sh   (RATE=200; KEEP=1 keeps everything running until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE="${RATE:-200}"
ENCORE="$PWD/build/release/encore"
for tool in redis-server redis-cli curl python3; do
  command -v "$tool" >/dev/null || { echo "demo: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
[ -x "$ENCORE" ] || { echo "demo: build first (ninja -C build/release encore)" >&2; exit 1; }
W=$(mktemp -d /tmp/encore-live-demo.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WEIGHTS=view=1,cart=3,wishlist=5,purchase=10

echo "== data, model, snapshot"
"$ENCORE" generate --profile retail --users 2000 --items 300 --rows 40000 --seed 7 --out "$W/data" --quiet
"$ENCORE" train --model ials --input "$W/data/events.csv" --weights $WEIGHTS --factors 16 --out "$W/model.bin" --quiet
"$ENCORE" publish --model-file "$W/model.bin" --n 5 --store "$W/store" --quiet

RP=$(free_port); HP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$W" >/dev/null &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
REDIS="redis://127.0.0.1:$RP/0"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$W/key"; chmod 600 "$W/key"
"$ENCORE" serve --store "$W/store" --port "$HP" --api-key-file "$W/key" \
  --events-redis "$REDIS" --events-stream events --event-types view,cart,wishlist,purchase 2>"$W/serve.log" &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$HP/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
"$ENCORE" stream --store "$W/store" --redis "$REDIS" --stream events --group demo --weights $WEIGHTS \
  --quiet 2>"$W/stream.log" &
PIDS+=($!)

# Background shoppers: RATE random retail events per second into the stream.
python3 - "$RP" "$RATE" <<'PY' &
import socket, sys, random, time
port, rate = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def xadd(*fields):
    args = ("XADD", "events", "*") + fields
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args))
    f.readline()
while True:
    for _ in range(max(1, rate // 10)):
        xadd("user", "u%04d" % random.randrange(2000), "item", "i%03d" % random.randrange(300),
             "event", random.choice(["view", "view", "view", "cart", "wishlist", "purchase"]))
    time.sleep(0.1)
PY
PIDS+=($!)

U=u0042
KEY=$(cat "$W/key")
show() { curl -s "http://127.0.0.1:$HP/v1/users/$U/recommendations"; echo; }
echo "== $U's list from the batch snapshot"
show
TOP=$(curl -s "http://127.0.0.1:$HP/v1/users/$U/recommendations" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["item"])')
echo "== $U views i007 and i008, puts i009 in the cart and buys $TOP (POST /v1/events)"
curl -s -X POST "http://127.0.0.1:$HP/v1/events" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "[{\"user\":\"$U\",\"item\":\"i007\",\"event\":\"view\"},{\"user\":\"$U\",\"item\":\"i008\",\"event\":\"view\"},
       {\"user\":\"$U\",\"item\":\"i009\",\"event\":\"cart\"},{\"user\":\"$U\",\"item\":\"$TOP\",\"event\":\"purchase\",\"id\":\"order-1\"},
       {\"user\":\"$U\",\"event\":\"view\"}]"
echo
# The consumer applies events within milliseconds on an idle machine; on a
# busy one (or a sanitizer build) it may need longer, so wait for the effect
# (up to 60 s) rather than for a fixed time.
wait_for() {  # command that succeeds once the event is served
  for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done
  echo "demo: the stream consumer did not apply the events within 60 s; see $W/stream.log:" >&2
  tail "$W/stream.log" >&2
  return 1
}
bought_gone() { ! curl -s "http://127.0.0.1:$HP/v1/users/$U/recommendations" | grep -q "\"$TOP\""; }
wait_for bought_gone
echo "== $U's list now ($TOP bought, so no longer recommended)"
show
echo "== a brand-new shopper after one click"
curl -s -X POST "http://127.0.0.1:$HP/v1/events" -H "Authorization: Bearer $KEY" \
  -d '[{"user":"visitor-1","item":"i010","event":"view"}]' >/dev/null
visitor_served() { curl -sf "http://127.0.0.1:$HP/v1/users/visitor-1/recommendations" >/dev/null; }
wait_for visitor_served
curl -s "http://127.0.0.1:$HP/v1/users/visitor-1/recommendations"; echo
echo "== consumer metrics on /metrics"
curl -s "http://127.0.0.1:$HP/metrics" | grep -E "^encore_stream_(events_applied_total|events_per_second|consumer_lag|event_to_served_seconds_count)"
if [ "${KEEP:-0}" = 1 ]; then
  echo "== running: http://127.0.0.1:$HP  (Ctrl-C stops everything)"; wait
fi
