#!/usr/bin/env bash
# The issue-13 speed-up target, measured the only honest way on a shared
# machine: rounds alternated, side by side, median reported.
# Per round: `mpirun -np 1` and `mpirun -np 2` ials fits (64 factors, 15
# iterations, one thread per rank) on the 200,000 x 50,000 plays data,
# N = 2 once with fixed blocks (--balance-margin 0) and once balanced (the
# default), and, with BASE=/path/to/an/older/encore, N = 1 and 2 of that
# binary too. Prints each run's fit seconds (from --json), rank 0's seconds
# inside the exchange and the rows rank 0 solved, then the median speed-ups;
# before each round, each CPU's speed alone (a fixed loop pinned to it).
# Usage: bench/mpi_speedup.sh   (ROUNDS=5, ENCORE=..., BASE=..., BENCH_DATA=/tmp/plays5m)
set -euo pipefail
cd "$(dirname "$0")/.."
ENCORE="${ENCORE:-$PWD/build/release/encore}"
ROUNDS="${ROUNDS:-5}"
OUT="$(mktemp -d /tmp/mpi_speedup.XXXXXX)"
# shellcheck source=lib/plays_data.sh
if [ -n "${BASE:-}" ] && [ ! -x "$BASE" ]; then
  echo "mpi_speedup: BASE=$BASE is not an encore binary; build the older commit first, e.g." >&2
  echo "  git worktree add /tmp/base COMMIT && cmake -S /tmp/base -B /tmp/base/build -DCMAKE_BUILD_TYPE=Release -G Ninja && cmake --build /tmp/base/build --target encore && cp /tmp/base/build/encore $BASE" >&2
  echo "or leave BASE unset to measure this build alone" >&2
  exit 2
fi
source bench/lib/plays_data.sh

# fit ROUND LABEL BINARY RANKS [FLAGS...] -> one line in $OUT/runs.tsv
fit() {
  local round=$1 label=$2 bin=$3 ranks=$4
  shift 4
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  mpirun -np "$ranks" --oversubscribe --bind-to none "$bin" train --model ials --input "$CSV" \
    --factors 64 --iterations 15 --reg 0.01 --alpha 1 --threads 1 "$@" --json \
    --out "$OUT/model.bin" 2>/dev/null >"$OUT/run.json"
  python3 - "$OUT/run.json" "$round" "$label" "$load" >>"$OUT/runs.tsv" <<'PY'
import json, sys
path, round_, label, load = sys.argv[1:]
d = json.load(open(path))
print("\t".join([round_, label, load, "%.2f" % d["fit_seconds"], "%.2f" % d["exchange_seconds"],
                 str(d.get("rank0_solved_users", "")), str(d.get("rank0_owned_users", ""))]))
PY
  tail -n 1 "$OUT/runs.tsv"
}

# The same fixed loop pinned to each CPU alone, seconds: on a shared VM the
# vCPUs are not equal, and N = 2 can gain at most 1 + t_fast / t_slow.
cpu_speeds() {
  local line="" c
  for c in $(seq 0 $(($(nproc) - 1))); do
    line+=" cpu$c $(taskset -c "$c" python3 -c '
import time
t = time.perf_counter(); x = 0
for i in range(5_000_000): x += i
print("%.3f" % (time.perf_counter() - t))')"
  done
  echo "cpu loop seconds:$line"
}

printf 'round\trun\tload\tfit_s\texchange_s\trank0_solved_users\trank0_owned_users\n'
for r in $(seq 1 "$ROUNDS"); do
  cpu_speeds
  fit "$r" "N=1" "$ENCORE" 1
  fit "$r" "N=2 fixed" "$ENCORE" 2 --balance-margin 0
  fit "$r" "N=2 balanced" "$ENCORE" 2
  if [ -n "${BASE:-}" ]; then
    fit "$r" "base N=1" "$BASE" 1
    fit "$r" "base N=2" "$BASE" 2
  fi
done
python3 - "$OUT/runs.tsv" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r, label, load, fit, *_ = line.rstrip("\n").split("\t")
    runs.setdefault(int(r), {})[label] = float(fit)
def ratios(one, two):
    return [v[one] / v[two] for v in runs.values() if one in v and two in v]
for one, two in [("N=1", "N=2 fixed"), ("N=1", "N=2 balanced"), ("base N=1", "base N=2")]:
    x = ratios(one, two)
    if x:
        print("speed-up %s / %s: median %.2fx (rounds: %s)" %
              (one, two, statistics.median(x), " ".join("%.2f" % v for v in x)))
PY
echo "== raw: $OUT/runs.tsv"
