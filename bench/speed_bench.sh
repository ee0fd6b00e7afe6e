#!/usr/bin/env bash
# Model speed benchmark (issue: models and evaluation). Generated implicit data:
# 200k users x 50k items, ~5.4M nonzeros; 2 threads.
#   - ials fit at 64 factors, 15 iterations, CG (target: <= half the time of
#     the `implicit` library's CPU ALS on the same data and threads);
#   - top-10 for every user with ials (target, issue 16 item 7: at most half
#     the time of implicit's batched recommend), top-20 for every user with
#     cooccurrence (target: seconds);
#   - peak memory per nonzero for each model.
# To compare against another library side by side, set COMPARE_CMD to a
# command that prints one JSON line with fit_seconds and recommend_seconds;
# it runs interleaved with encore's runs. (Nothing here builds that library.)
# Usage: bench/speed_bench.sh; REPEATS=3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS="${REPEATS:-3}"
DATA="${BENCH_DATA:-/tmp/plays5m}"
CSV="$DATA/plays.csv"
BENCH=build/release/bench/model_bench
if [ ! -f "$CSV" ]; then
  build/release/encore generate --profile plays --users 200000 --items 50000 --rows 5500000 \
    --seed 1 --out "$DATA" --quiet
fi

COMMON="threads=2"
declare -A ARGS=(
  [ials]="model=ials factors=64 iterations=15 reg=0.01 alpha=1 solver=cg cg_steps=3 n=10"
  [cooccurrence]="model=cooccurrence neighbors=200 n=20"
  [popularity]="model=popularity n=10"
)
MODELS="${MODELS:-ials cooccurrence popularity}"
OUT=$(mktemp -d)
for r in $(seq "$REPEATS"); do
  for m in $MODELS; do
    # shellcheck disable=SC2086
    "$BENCH" "$CSV" $COMMON ${ARGS[$m]} | tail -n 1 >> "$OUT/$m.jsonl"
  done
  if [ -n "${COMPARE_CMD:-}" ]; then
    bash -c "$COMPARE_CMD" | tail -n 1 >> "$OUT/compare.jsonl"
  fi
done

python3 - "$OUT" $MODELS <<'PY'
import json, statistics, sys, os
out, models = sys.argv[1], sys.argv[2:]
def load(name):
    with open(os.path.join(out, name + ".jsonl")) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]
def med(rows, key):
    return statistics.median(r[key] for r in rows)
res = {m: load(m) for m in models}
print(f"{'model':14} {'fit s':>8} {'recommend s':>12} {'peak MiB':>9} {'model B/nnz':>12}  runs (fit)")
for m, rows in res.items():
    print(f"{m:14} {med(rows,'fit_seconds'):8.2f} {med(rows,'recommend_seconds'):12.2f} "
          f"{med(rows,'peak_rss_recommend_mib'):9.0f} {med(rows,'fit_bytes_per_nnz'):12.1f}  "
          + " ".join(f"{r['fit_seconds']:.2f}" for r in rows))
if os.path.exists(os.path.join(out, "compare.jsonl")):
    cmp = load("compare")
    cf, cr = med(cmp, "fit_seconds"), med(cmp, "recommend_seconds")
    print(f"{'compare':14} {cf:8.2f} {cr:12.2f}  runs: " + " ".join(f"{r['fit_seconds']:.2f}/{r['recommend_seconds']:.2f}" for r in cmp))
    if "ials" in res:
        f, r = med(res["ials"], "fit_seconds"), med(res["ials"], "recommend_seconds")
        print(f"ials fit / compare fit = {f/cf:.2f} (target <= 0.25); "
              f"ials recommend / compare recommend = {r/cr:.2f} (target <= 0.5)")
PY
