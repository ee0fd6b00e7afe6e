#!/usr/bin/env bash
# Quality table (issue 17): each model tuned by `encore evaluate --tune` (nested
# evaluation: parameters chosen by inner cross-validation on each outer training
# part only) and scored on the held-out part it never saw. See docs/QUALITY.md.
#
#  ml-latest-small: explicit ratings, outer 5-fold CV over ratings, RMSE and MAE.
#  hetrec lastfm:   log1p(plays), outer per-user 80/20 holdout, P@10, NDCG@10,
#                   MAP@10, recall@20, coverage@10; tuned by precision@10.
#  coat:            the shipped split (train.ascii -> test.ascii, --test-input),
#                   explicit RMSE/MAE; and ratings >= 4 as implicit positives.
#  groceries:       each basket a user, leave one item out per basket of >= 2.
# Seeds: SEED (default 42) for the outer split, the inner folds, the random
# draws and the models. Budgets through the environment (TRIALS, THREADS).
set -euo pipefail
cd "$(dirname "$0")/.."
E=build/release/encore
DATA="${SHARED_DATA:-../shared/data}"
ML="$DATA/ml-latest-small/ratings.csv"
LASTFM="$DATA/hetrec2011-lastfm-2k/user_artists.dat"
SEED="${SEED:-42}"
TRIALS="${TRIALS:-10}"
# The ml-latest-small nested als run (5 outer x TRIALS x 3 inner fits, factors up to 128)
# took 89 s with TRIALS=10 on the shared 2-core VM after the ALS speed-up (docs/QUALITY.md).
THREADS="${THREADS:-2}"
COMMON=(--seed "$SEED" --threads "$THREADS" --quiet)
# ONLY: the data sets to run, comma-separated (ml,lastfm,coat,groceries); default all.
ONLY="${ONLY:-ml,lastfm,coat,groceries}"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
TUNE=(--tune --tune-metric precision@10)

# The implicit-feedback rows, the same five for every data set: reads SPLIT
# (input, split and metric flags), TUNE, ROWS (the metric lines to print, an
# extended regex), FACTORS (the revisited space's factor choices) and
# EASE_ARGS (more flags for ease).
implicit_rows() {
  echo "-- popularity"
  $E evaluate --model popularity "${SPLIT[@]}" | grep -E "^($ROWS)"
  echo "-- cooccurrence (default space: similarity x aggregate, grid)"
  $E evaluate --model cooccurrence "${SPLIT[@]}" "${TUNE[@]}" --tune-search grid \
    | grep -E "^($ROWS)|^outer"
  echo "-- ials (default space, $TRIALS random trials)"
  $E evaluate --model ials "${SPLIT[@]}" "${TUNE[@]}" --tune-trials "$TRIALS" \
    | grep -E "^($ROWS)|^outer"
  echo "-- ials, revisited space (unobserved_weight, reg_exponent=1; $TRIALS random trials)"
  $E evaluate --model ials "${SPLIT[@]}" "${TUNE[@]}" --tune-trials "$TRIALS" --reg-exponent 1 \
    --tune-space "factors=$FACTORS;reg=0.001..0.1:log;unobserved_weight=0.05..1:log;alpha=0.3..3:log;iterations=15" \
    | grep -E "^($ROWS)|^outer"
  echo "-- ease (default space, 6 random trials) ${EASE_ARGS[*]}"
  $E evaluate --model ease "${SPLIT[@]}" "${TUNE[@]}" --tune-trials 6 "${EASE_ARGS[@]}" \
    | grep -E "^($ROWS)|^outer"
}

if want ml; then
echo "== ml-latest-small: 5-fold CV (outer), nested tuning: $TRIALS random trials x 3 inner folds"
echo "-- bias baseline (no tuning)"
$E evaluate --model baseline --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
  "${COMMON[@]}" | grep -E '^(rmse|mae) '
echo "-- als (default space), --cold-start popular"
$E evaluate --tune --model als --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
  --cold-start popular --tune-trials "$TRIALS" "${COMMON[@]}" | grep -E '^(rmse|mae) |^outer'
echo "-- svdpp (default space), --cold-start popular"
$E evaluate --tune --model svdpp --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
  --cold-start popular --tune-trials "$TRIALS" "${COMMON[@]}" | grep -E '^(rmse|mae) |^outer'
echo "-- als, Spark defaults (rank 10, reg 0.1, 10 iterations; no tuning), --cold-start popular"
$E evaluate --model als --input "$ML" --format ml-latest --folds 5 --metrics rmse,mae \
  --cold-start popular "${COMMON[@]}" | grep -E '^(rmse|mae) '
echo
fi

if want lastfm; then
echo "== hetrec lastfm, log1p(plays), per-user 80/20 holdout, nested tuning by precision@10"
SPLIT=(--input "$LASTFM" --format lastfm --transform log1p --split user --test-fraction 0.2
       --metrics precision@10,ndcg@10,map@10,recall@20,coverage@10 "${COMMON[@]}")
TUNE=(--tune --tune-metric precision@10)
ROWS="precision|ndcg|map|recall|coverage"
FACTORS="32,64,128"
EASE_ARGS=(--min-item-users 3)  # items with >= 3 training users
implicit_rows
echo
fi

COAT="$DATA/coat"
if want coat; then
echo "== coat: explicit ratings, given split (train.ascii: 6,960 self-selected ratings -> test.ascii:"
echo "   4,640 ratings of random items), nested tuning on train.ascii only ($TRIALS trials x 3 inner folds)"
# 366 pairs are in both files (same rating): dropped from training, so the test stays
# the full random-item test set (4,640 ratings); --test-overlap drop-from-test is the other choice.
CT=(--input "$COAT/train.ascii" --test-input "$COAT/test.ascii" --format matrix
    --feedback explicit --metrics rmse,mae "${COMMON[@]}")
DROP=(--test-overlap drop-from-train)
echo "-- bias baseline (no tuning)"
$E evaluate --model baseline "${CT[@]}" "${DROP[@]}" | grep -E '^(rmse|mae) '
echo "-- als (default space), --cold-start popular"
$E evaluate --tune --model als "${CT[@]}" "${DROP[@]}" --cold-start popular --tune-trials "$TRIALS" \
  | grep -E '^(rmse|mae) |^outer'
echo "-- svdpp (default space), --cold-start popular"
$E evaluate --tune --model svdpp "${CT[@]}" "${DROP[@]}" --cold-start popular --tune-trials "$TRIALS" \
  | grep -E '^(rmse|mae) |^outer'
echo "-- als (default space), overlap dropped from the test instead (4,274 test ratings)"
$E evaluate --tune --model als "${CT[@]}" --test-overlap drop-from-test --cold-start popular \
  --tune-trials "$TRIALS" | grep -E '^(rmse|mae) |^outer'
echo

echo "== coat, implicit view: ratings >= 4 are positives (cells below 4 set to 0 by awk), train -> test,"
echo "   nested tuning by precision@10"
TMPD="$(mktemp -d)"
trap 'rm -rf "$TMPD"' EXIT
for f in train test; do
  awk '{ for (i = 1; i <= NF; ++i) if ($i + 0 < 4) $i = 0; print }' "$COAT/$f.ascii" > "$TMPD/$f.ascii"
done
CI=(--input "$TMPD/train.ascii" --test-input "$TMPD/test.ascii" --test-overlap drop-from-train
    --format matrix --transform binary
    --metrics precision@10,ndcg@10,map@10,recall@20,coverage@10 "${COMMON[@]}")
SPLIT=("${CI[@]}")
TUNE=(--tune --tune-metric precision@10)
ROWS="precision|ndcg|map|recall|coverage"
FACTORS="16,32,64"
EASE_ARGS=()
implicit_rows
echo
fi

GROC="$DATA/groceries/groceries.csv"
if want groceries; then
echo "== groceries: each basket is a user; leave one random item out of every basket of >= 2 items"
echo "   (baskets of 1 item stay in training), nested tuning by hit@10"
GS=(--input "$GROC" --format baskets --split user --leave-k 1 --min-train 1
    --metrics hit@10,ndcg@10,precision@10,coverage@10 "${COMMON[@]}")
GT=(--tune --tune-metric hit@10)
SPLIT=("${GS[@]}")
TUNE=("${GT[@]}")
ROWS="hit|ndcg|precision|coverage"
FACTORS="16,32,64"
EASE_ARGS=()
implicit_rows
fi
