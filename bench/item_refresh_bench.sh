#!/usr/bin/env bash
# Item-side refresh (Kappa, docs/STREAMING.md#item-side-refresh) on the 200,000 x 50,000
# benchmark data of docs/BENCHMARKS.md: train and publish ials (64 factors, 15 iterations),
# then play EVENTS live events (existing users plus NEW_USERS new ones on NEW_ITEMS new
# items) through `encore stream --history live --item-refresh-events EVENTS`, which refreshes
# once in the background: its report line gives the time to read the totals and build the
# data, fit the warm-started sweeps, and publish the new snapshot.
# Usage: bench/item_refresh_bench.sh   (env: SWEEPS=2 THREADS=2 EVENTS=20000 NEW_ITEMS=50)
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS="${SWEEPS:-2}"
THREADS="${THREADS:-2}"
EVENTS="${EVENTS:-20000}"
NEW_ITEMS="${NEW_ITEMS:-50}"
NEW_USERS="${NEW_USERS:-1000}"
ENCORE="$PWD/build/release/encore"
[ -x "$ENCORE" ] || { echo "item_refresh_bench: build encore first (ninja -C build/release encore)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/encore-item-refresh-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

t() { /usr/bin/time -f "   %e s wall, %M KiB peak RSS" "$@"; }
echo "== data: encore generate --profile plays --users 200000 --items 50000 --rows 5500000 --seed 1"
"$ENCORE" generate --profile plays --users 200000 --items 50000 --rows 5500000 --seed 1 --out "$W/data" --quiet
echo "== train ials (64 factors, 15 iterations, reg 0.01, $THREADS threads)"
t "$ENCORE" train --model ials --input "$W/data/plays.csv" --factors 64 --iterations 15 \
  --reg 0.01 --threads "$THREADS" --out "$W/model.bin" --quiet
echo "== publish (n 20)"
t "$ENCORE" publish --model-file "$W/model.bin" --n 20 --store "$W/store" --threads "$THREADS" --quiet
echo "== $EVENTS live events ($NEW_USERS new users, $NEW_ITEMS new items), then one item refresh"
python3 - "$W/data/plays.csv" "$EVENTS" "$NEW_ITEMS" "$NEW_USERS" > "$W/events.jsonl" <<'PY'
import csv, json, random, sys
path, n, new_items, new_users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(5)
users, items = set(), set()
with open(path) as f:
    r = csv.reader(f)
    next(r)
    for row in r:
        users.add(row[0]); items.add(row[1])
        if len(users) > 20000 and len(items) > 5000: break
users, items = sorted(users), sorted(items)
for k in range(n):
    if k % 5 == 0:
        u = "live-user-%d" % random.randrange(new_users)
    else:
        u = random.choice(users)
    i = ("new-item-%d" % random.randrange(new_items)) if k % 4 == 0 else random.choice(items)
    print(json.dumps({"user": u, "item": i, "event": "play", "id": "e%d" % k}))
PY
t "$ENCORE" stream --store "$W/store" --events "$W/events.jsonl" --history live \
  --item-refresh-events "$EVENTS" --item-refresh-sweeps "$SWEEPS" --item-refresh-threads "$THREADS"
