#!/usr/bin/env python3
# The 3.47 M vs 5.38 M gap of the first item_refresh_bench.sh (docs/BENCHMARKS.md): replays
# that version's seed-5 draws of live events and predicts the refresh's interactions from
# the data alone (a Kappa refresh replaces each live user's base row by their live totals).
# Usage: bench/item_refresh_gap.py PLAYS_CSV   (encore generate --profile plays --users 200000
#        --items 50000 --rows 5500000 --seed 1)
import csv, random, sys
from collections import defaultdict
path = sys.argv[1]
n, new_items, new_users = 20000, 50, 1000
random.seed(5)
users, items = set(), set()
with open(path) as f:
    r = csv.reader(f); next(r)
    for row in r:
        users.add(row[0]); items.add(row[1])
        if len(users) > 20000 and len(items) > 5000: break
users, items = sorted(users), sorted(items)
live = defaultdict(set)
for k in range(n):
    if k % 5 == 0:
        u = "live-user-%d" % random.randrange(new_users)
    else:
        u = random.choice(users)
    i = ("new-item-%d" % random.randrange(new_items)) if k % 4 == 0 else random.choice(items)
    live[u].add(i)
pairs = set(); rows_of = defaultdict(int)
with open(path) as f:
    r = csv.reader(f); next(r)
    for u, i, _ in r:
        pairs.add((u, i))
base_nnz = len(pairs)
per_user = defaultdict(int)
for u, i in pairs: per_user[u] += 1
existing = [u for u in live if not u.startswith("live-user-")]
replaced = sum(per_user[u] for u in existing)
live_pairs = sum(len(s) for s in live.values())
print("base users %d, base nonzeros %d" % (len(per_user), base_nnz))
print("live users %d (%d existing, %d new)" % (len(live), len(existing), len(live) - len(existing)))
print("base nonzeros of the existing live users: %d (mean %.1f a user; all users: mean %.1f)" %
      (replaced, replaced / len(existing), base_nnz / len(per_user)))
print("live pairs (their totals): %d" % live_pairs)
print("predicted refresh interactions = %d - %d + %d = %d" % (base_nnz, replaced, live_pairs, base_nnz - replaced + live_pairs))
