#!/usr/bin/env bash
# Distributed benchmark (issue 13; docs/SCALING.md, docs/BENCHMARKS.md), one run
# of each, side by side:
#  1. ials on the 200,000 x 50,000 plays data (bench/speed_bench.sh's data:
#     `encore generate --profile plays --users 200000 --items 50000 --rows 5500000
#     --seed 1`), 15 iterations, one thread per rank: plain `encore train` and
#     `mpirun -np N encore train` for N = 1, 2, 4 (4 oversubscribes 2 cores) at
#     64 factors, N = 1, 2 at 32 factors. Per run: fit seconds, seconds inside
#     the exchange, bytes rank 0 received (counted in the code), the memory
#     model's estimate and each rank's peak RSS (/usr/bin/time), rank 0 first.
#  2. cooccurrence (neighbors 200) on the same data, N = 1, 2.
#  3. Serving replicas: wrk through nginx to 1 and to 2 `encore serve`
#     replicas (scripts/replicas.sh) on one Redis, 20,000 users published.
# Prints a table per part; raw JSON lines in $OUT (printed at the end).
# Usage: bench/mpi_bench.sh   (ENCORE=..., BENCH_DATA=/tmp/plays5m)
set -euo pipefail
cd "$(dirname "$0")/.."
ENCORE="${ENCORE:-$PWD/build/release/encore}"
OUT="$(mktemp -d /tmp/mpi_bench.XXXXXX)"
# shellcheck source=lib/plays_data.sh
source bench/lib/plays_data.sh

# train KIND FACTORS RANKS (0: no mpirun) -> one JSON line in $OUT/train.jsonl
train() {
  local kind=$1 factors=$2 ranks=$3 tag="$1-$2-$3"
  local flags=(train --model "$kind" --input "$CSV" --threads 1 --json --out "$OUT/$tag.bin")
  [ "$kind" = ials ] && flags+=(--factors "$factors" --iterations 15 --reg 0.01 --alpha 1)
  [ "$kind" = cooccurrence ] && flags+=(--neighbors 200)
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  local start; start=$(date +%s.%N)
  if [ "$ranks" = 0 ]; then
    /usr/bin/time -f "rss_kb %M" -o "$OUT/$tag.rss" "$ENCORE" "${flags[@]}" 2>/dev/null >"$OUT/$tag.json"
  else
    # One peak per rank, in rank order ($OUT/TAG.rss.R).
    mpirun -np "$ranks" --oversubscribe --bind-to none sh -c \
      'exec /usr/bin/time -f "rss_kb %M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' \
      "$OUT/$tag.rss" "$ENCORE" "${flags[@]}" 2>/dev/null >"$OUT/$tag.json"
    for r in $(seq 0 $((ranks - 1))); do cat "$OUT/$tag.rss.$r"; done >"$OUT/$tag.rss"
  fi
  local wall; wall=$(echo "$(date +%s.%N) - $start" | bc)
  python3 - "$OUT/$tag.json" "$OUT/$tag.rss" "$kind" "$factors" "$ranks" "$wall" "$load0" \
    >>"$OUT/train.jsonl" <<'PY'
import json, sys
path, rss, kind, factors, ranks, wall, load0 = sys.argv[1:]
doc = json.loads(open(path).read())
peaks = [int(l.split()[1]) * 1024 for l in open(rss) if l.startswith("rss_kb")]
doc.update(kind=kind, factors=int(factors), launched_ranks=int(ranks), wall_seconds=float(wall),
           load_before=float(load0), peak_rss_bytes=peaks)
print(json.dumps(doc))
PY
  tail -n 1 "$OUT/train.jsonl"
}

echo "== 1. ials, 15 iterations, one thread per rank"
train ials 64 0
train ials 64 1
train ials 64 2
train ials 64 4
train ials 32 1
train ials 32 2
echo "== 2. cooccurrence, neighbors 200, one thread per rank"
train cooccurrence 0 0
train cooccurrence 0 1
train cooccurrence 0 2

python3 - "$OUT/train.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'kind':13} {'k':>3} {'ranks':>5} {'fit s':>7} {'xchg s':>7} {'wall s':>7} "
      f"{'recv MB/it':>10} {'pred MB/it':>10} {'est MB':>7} {'peak MB/rank':>14} {'load':>5}")
base = {}
for r in rows:
    n, k = r["launched_ranks"], r["factors"]
    it = 15 if r["kind"] == "ials" else 1
    recv = (r.get("rank0_allreduce_bytes", 0) + r.get("rank0_allgather_bytes", 0)) / it / 1e6
    U, I = r["users"], r["items"]
    # Rank 0 receives every row it did not solve (docs/SCALING.md): per
    # iteration the two Gram sums and the other ranks' rows of both sides
    # (from the last half-sweep's share; the balancing moves it), once per fit
    # the other ranks' initial draws and cold-item scores.
    pred = 0
    if n > 1 and r["kind"] == "ials":
        su, si = r["rank0_solved_users"], r["rank0_solved_items"]
        once = 4 * k * (U + I) * (n - 1) / n + 4 * (I - si)
        pred = (2 * 8 * k * k + 4 * k * ((U - su) + (I - si)) + once / it) / 1e6
    est = r.get("rank0_estimated_bytes", 0) / 1e6
    peaks = "/".join(f"{p/1e6:.0f}" for p in r["peak_rss_bytes"])
    print(f"{r['kind']:13} {k:3} {n:5} {r['fit_seconds']:7.2f} {r.get('exchange_seconds', 0):7.2f} "
          f"{r['wall_seconds']:7.1f} {recv:10.2f} {pred:10.2f} {est:7.0f} {peaks:>14} {r['load_before']:5.1f}")
    base.setdefault((r["kind"], k), {})[n] = r["fit_seconds"]
for (kind, k), runs in base.items():
    if 1 in runs:
        print(f"{kind} k={k}: speed-up over mpirun -np 1: " +
              ", ".join(f"N={n}: {runs[1]/s:.2f}x" for n, s in sorted(runs.items()) if n > 1))
PY

echo "== 3. serving replicas behind nginx (wrk -t2 -c16 -d10s)"
W="$OUT/serve"
mkdir -p "$W"
"$ENCORE" generate --profile plays --users 20000 --items 5000 --rows 400000 --seed 7 --out "$W/data" --quiet
"$ENCORE" train --model ials --input "$W/data/plays.csv" --factors 32 --iterations 5 --threads 2 \
  --out "$W/m.bin" >/dev/null 2>&1
cut -d, -f1 "$W/data/plays.csv" | tail -n +2 | sort -u | sed -n "1,5000p" >"$W/users.txt"
cat >"$W/load.lua" <<'LUA'
local users = {}
for line in io.lines(os.getenv("USERS")) do users[#users + 1] = line end
local i = 0
function init(args) i = math.random(#users) end
function request()
  i = i % #users + 1
  return wrk.format("GET", "/v1/users/" .. users[i] .. "/recommendations")
end
LUA
for n in 1 2; do
  scripts/replicas.sh --replicas "$n" --dir "$W/set$n" --encore "$ENCORE" --threads 1 \
    >"$W/set$n.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do [ -f "$W/set$n/env" ] && break; sleep 0.1; done
  # shellcheck disable=SC1090
  source "$W/set$n/env"
  "$ENCORE" publish --model-file "$W/m.bin" --store "$REDIS" --n 20 --similar-n 0 --threads 2 \
    >/dev/null 2>&1
  for _ in $(seq 1 100); do
    curl -s "$URL/readyz" | grep -q '"snapshot":1' && break; sleep 0.1
  done
  sleep 1
  echo "-- $n replica(s), load $(cut -d' ' -f1 /proc/loadavg)"
  USERS="$W/users.txt" wrk -t2 -c16 -d10s -s "$W/load.lua" "$URL" | grep -E "Requests/sec|Latency|requests in|Non-2xx|Socket"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "== raw: $OUT/train.jsonl; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
