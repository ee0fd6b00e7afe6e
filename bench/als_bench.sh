#!/usr/bin/env bash
# Explicit ALS speed and quality, old against new binary side by side (issue 16, "Threads must
# help"). Every run prints the load average; runs alternate old/new so both see the same load.
#   1. Speed: `model_bench` als, 64 factors, reg 0.1, ITERS iterations on the plays set of
#      bench/speed_bench.sh (197,895 x 50,000, 5.4M nonzeros), threads 1 and 2, recommend skipped.
#   2. Quality: RMSE on a 10% holdout of `encore generate --profile ratings` of the same size
#      (explicit, one rating per pair), 64 factors, 10 iterations, reg 0.05, biases: the new
#      binary's solver=cg (default) against solver=cholesky (the exact solve, the old method).
#   3. Threads: threads=2 with OMP_WAIT_POLICY unset-and-re-executed (PASSIVE) and =active.
# Usage: OLD_BENCH=/path/to/old/model_bench bench/als_bench.sh   (OLD_BENCH optional)
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=build/release/bench/model_bench
OLD="${OLD_BENCH:-}"
ITERS="${ITERS:-3}"
REPEATS="${REPEATS:-2}"
PLAYS="${PLAYS_DATA:-/tmp/plays5m}"
RATINGS="${RATINGS_DATA:-/tmp/ratings5m}"
[ -f "$PLAYS/plays.csv" ] || build/release/encore generate --profile plays --users 200000 \
  --items 50000 --rows 5500000 --seed 1 --out "$PLAYS" --quiet
[ -f "$RATINGS/ratings.csv" ] || build/release/encore generate --profile ratings --users 200000 \
  --items 50000 --rows 5500000 --seed 1 --out "$RATINGS" --quiet

load() { cut -d' ' -f1-3 /proc/loadavg; }
fit_line() { grep -E '^als fit:|holdout RMSE' | sed 's/^als fit: //' | tr '\n' ' '; }

echo "== speed: plays, als factors=64 reg=0.1 iterations=$ITERS (recommend skipped on new)"
for r in $(seq "$REPEATS"); do
  for t in 1 2; do
    if [ -n "$OLD" ]; then
      echo "old threads=$t load $(load): $("$OLD" "$PLAYS/plays.csv" model=als factors=64 reg=0.1 \
        iterations="$ITERS" threads=$t n=10 | fit_line)"
    fi
    echo "new threads=$t load $(load): $("$NEW" "$PLAYS/plays.csv" model=als factors=64 reg=0.1 \
      iterations="$ITERS" threads=$t recommend=false | fit_line)"
  done
done

echo "== threads: new, threads=2, wait policy"
for r in $(seq "$REPEATS"); do
  echo "passive (re-exec) load $(load): $(env -u OMP_WAIT_POLICY "$NEW" "$PLAYS/plays.csv" \
    model=als factors=64 reg=0.1 iterations="$ITERS" threads=2 recommend=false | fit_line)"
  echo "active            load $(load): $(OMP_WAIT_POLICY=active "$NEW" "$PLAYS/plays.csv" \
    model=als factors=64 reg=0.1 iterations="$ITERS" threads=2 recommend=false | fit_line)"
done

echo "== quality: ratings, 10% holdout, factors=64 iterations=10 reg=0.05 biases, threads=2"
for solver in cg cholesky; do
  echo "new solver=$solver load $(load): $("$NEW" "$RATINGS/ratings.csv" value=rating \
    feedback=explicit model=als factors=64 iterations=10 reg=0.05 biases=true solver=$solver \
    threads=2 holdout=0.1 recommend=false | fit_line)"
done
