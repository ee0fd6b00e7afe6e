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

ALS_ARGS="${ALS_ARGS:---factors 64 --iterations 15 --reg 0.05 --biases}"
IALS_ARGS="${IALS_ARGS:---factors 64 --iterations 15 --reg 0.01 --alpha 20}"

echo "== explicit: ml-latest-small, 5-fold CV; als $ALS_ARGS vs bias baseline"
$E evaluate --model als --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
  --baseline --seed 42 --quiet $ALS_ARGS

echo
echo "== implicit: lastfm log1p(plays), per-user 80/20 split, seed 42"
SPLIT=(--input "$LASTFM" --format lastfm --transform log1p --split user --test-fraction 0.2
       --seed 42 --metrics precision@10,recall@10,ndcg@10,map@10 --quiet)
for m in popularity "cooccurrence --similarity cosine" "ials $IALS_ARGS"; do
  echo "-- $m"
  # shellcheck disable=SC2086
  $E evaluate --model ${m} "${SPLIT[@]}" | grep -E '^(precision|recall|ndcg|map)'
done
