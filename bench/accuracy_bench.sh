#!/usr/bin/env bash
# Accuracy benchmarks (issue: models and evaluation), on the real data sets in
# ../shared/data. Every comparison is computed in one run on the same splits.
#
#  1. Explicit: ml-latest-small, 5-fold CV, RMSE of als vs the user + item bias
#     baseline on the same folds (target: als >= 1.5% lower).
#  2. Implicit: hetrec2011-lastfm-2k, value log1p(plays), seeded per-user 80/20
#     split, precision@10 of ials vs popularity and item-item cosine
#     (target: >= 2.5x popularity and above cosine).
# Prints the tables; parameters can be overridden through the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
E=build/release/encore
DATA="${SHARED_DATA:-../shared/data}"
ML="$DATA/ml-latest-small/ratings.csv"
LASTFM="$DATA/hetrec2011-lastfm-2k/user_artists.dat"

# Parameters chosen with `encore evaluate --grid` on seed 42 (see docs/BENCHMARKS.md); the
# benchmark reports seed 42 and, as a check against tuning to one split, seed 7.
ALS_ARGS="${ALS_ARGS:---factors 64 --iterations 15 --reg 0.12 --biases --cold-start popular}"
IALS_ARGS="${IALS_ARGS:---factors 32 --iterations 15 --reg 1 --alpha 2}"
SEEDS="${SEEDS:-42 7}"

for seed in $SEEDS; do
  echo "== explicit: ml-latest-small, 5-fold CV, seed $seed; als $ALS_ARGS vs bias baseline"
  # shellcheck disable=SC2086
  $E evaluate --model als --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
    --baseline --seed "$seed" --quiet $ALS_ARGS | grep -E '^(metric|rmse|mae|als:|baseline:)'
  echo
done

for seed in $SEEDS; do
  echo "== implicit: lastfm log1p(plays), per-user 80/20 split, seed $seed"
  SPLIT=(--input "$LASTFM" --format lastfm --transform log1p --split user --test-fraction 0.2
         --seed "$seed" --metrics precision@10,recall@10,ndcg@10,map@10 --quiet)
  for m in popularity "cooccurrence --similarity cosine" \
           "cooccurrence --similarity cosine --aggregate sum" "ials $IALS_ARGS"; do
    echo "-- $m"
    # shellcheck disable=SC2086
    $E evaluate --model ${m} "${SPLIT[@]}" | grep -E '^(precision|recall|ndcg|map)'
  done
  echo
done
