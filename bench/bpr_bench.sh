#!/usr/bin/env bash
# bpr against ials and popularity (issue 14) on the ML-100k-style top-10 protocol of
# docs/METRICS.md: ml-latest-small, every rating an implicit positive (--feedback implicit
# --transform binary), seeded per-user 80/20 holdout, precision/ndcg/map/recall@10.
# bpr settings are the hand search reported in docs/QUALITY.md (on this split, which
# flatters bpr); ials uses the parameters of bench/accuracy_bench.sh (not tuned here).
set -euo pipefail
cd "$(dirname "$0")/.."
E=build/release/encore
DATA="${SHARED_DATA:-../shared/data}"
S=(--input "$DATA/ml-latest-small/ratings.csv" --format ml-latest --feedback implicit
   --transform binary --split user --test-fraction 0.2 --seed "${SEED:-42}"
   --metrics precision@10,ndcg@10,map@10,recall@10 --threads "${THREADS:-2}" --quiet)
for m in "popularity" \
         "ials --factors 32 --iterations 15 --reg 1 --alpha 2" \
         "bpr --factors 64 --iterations 100 --learning-rate 0.005 --reg 0.01" \
         "bpr --factors 64 --iterations 100 --learning-rate 0.01 --reg 0.01" \
         "bpr --factors 64 --iterations 100 --learning-rate 0.01 --reg 0.01 --verify-negative-samples=false" \
         "bpr --factors 64 --iterations 100 --learning-rate 0.05 --reg 0.01"; do
  echo "-- $m"
  # shellcheck disable=SC2086
  $E evaluate --model $m "${S[@]}" | grep -E '^(precision|ndcg|map|recall)|fit'
done
