#!/usr/bin/env bash
# Item-side refresh (Kappa, docs/STREAMING.md#item-side-refresh) on the 200,000 x 50,000
# benchmark data of docs/BENCHMARKS.md: train and publish ials (64 factors, 15 iterations),
# then play live events through `encore stream --history live`: first the whole base history
# of HISTORY_USERS random users (in Kappa the stream holds a live user's whole history), then
# EVENTS new events (those users plus NEW_USERS new ones, on NEW_ITEMS new items); the item
# refresh fires once at the end, in the background: its report line gives the time to read the
# totals and build the data, fit the warm-started sweeps, and publish the new snapshot, and the
# interactions fitted, which must equal the printed expectation (base nonzeros + new pairs).
# Usage: bench/item_refresh_bench.sh
#   (env: SWEEPS=2 THREADS=2 EVENTS=20000 NEW_ITEMS=50 NEW_USERS=1000 HISTORY_USERS=2000)
set -euo pipefail
cd "$(dirname "$0")/.."
SWEEPS="${SWEEPS:-2}"
THREADS="${THREADS:-2}"
EVENTS="${EVENTS:-20000}"
NEW_ITEMS="${NEW_ITEMS:-50}"
NEW_USERS="${NEW_USERS:-1000}"
HISTORY_USERS="${HISTORY_USERS:-2000}"
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
echo "== live events: the whole base history of $HISTORY_USERS random users (Kappa: the stream holds it),"
echo "   then $EVENTS new events ($NEW_USERS new users, $NEW_ITEMS new items), then one item refresh"
python3 - "$W/data/plays.csv" "$EVENTS" "$NEW_ITEMS" "$NEW_USERS" "$HISTORY_USERS" "$W/expected.txt" \
  > "$W/events.jsonl" <<'PY'
# Kappa means the stream holds each live user's whole history: a live user's
# totals REPLACE their base row in the refresh. So every existing user who
# gets live events first gets their whole base history (plays as quantity,
# the batch's value), and the refreshed data must then hold exactly the base
# nonzeros + the pairs the new events add. (The first version of this bench
# streamed 1-2 events for ~11,000 existing users, so their base rows were
# replaced by almost nothing: the 3.47 M vs 5.38 M interactions gap.)
import csv, json, random, sys
path, n, new_items, new_users, history_users, expected_path = sys.argv[1:7]
n, new_items, new_users, history_users = int(n), int(new_items), int(new_users), int(history_users)
random.seed(5)
pairs = set()
users, items = set(), set()
with open(path) as f:
    r = csv.reader(f)
    next(r)
    for u, i, _ in r:
        pairs.add((u, i)); users.add(u); items.add(i)
base_nnz = len(pairs)
users, items = sorted(users), sorted(items)
chosen = set(random.sample(users, history_users))
history = []
with open(path) as f:
    r = csv.reader(f)
    next(r)
    for u, i, plays in r:
        if u in chosen:
            history.append((u, i, plays))
for k, (u, i, plays) in enumerate(history):
    print(json.dumps({"user": u, "item": i, "event": "play", "quantity": int(plays), "id": "h%d" % k}))
chosen = sorted(chosen)
added = set()
for k in range(n):
    u = ("live-user-%d" % random.randrange(new_users)) if k % 5 == 0 else random.choice(chosen)
    i = ("new-item-%d" % random.randrange(new_items)) if k % 4 == 0 else random.choice(items)
    if (u, i) not in pairs: added.add((u, i))
    print(json.dumps({"user": u, "item": i, "event": "play", "id": "e%d" % k}))
with open(expected_path, "w") as out:
    out.write("%d %d %d %d\n" % (len(history) + n, base_nnz, len(added), base_nnz + len(added)))
PY
read -r TOTAL BASE_NNZ ADDED EXPECTED < "$W/expected.txt"
echo "   $TOTAL events; base nonzeros $BASE_NNZ + $ADDED new pairs: the refresh must fit $EXPECTED interactions"
t "$ENCORE" stream --store "$W/store" --events "$W/events.jsonl" --history live \
  --dedup-retention none \
  --item-refresh-events "$TOTAL" --item-refresh-sweeps "$SWEEPS" --item-refresh-threads "$THREADS"
