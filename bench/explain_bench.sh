#!/usr/bin/env bash
# Explanations (issue 14): time per explanation and how exactly the parts add up, for each
# model that explains, trained on hetrec lastfm (user_artists.dat, log1p plays) and on
# ml-latest-small (explicit ratings for als). 2,000 seeded (user, item) pairs per model,
# one call at a time on one thread (bench/explain_bench.cc).
set -euo pipefail
cd "$(dirname "$0")/.."
E=build/release/encore
B=build/release/bench/explain_bench
DATA="${SHARED_DATA:-../shared/data}"
W=$(mktemp -d /tmp/encore-explain-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
LASTFM=(--input "$DATA/hetrec2011-lastfm-2k/user_artists.dat" --format lastfm --transform log1p)
ML=(--input "$DATA/ml-latest-small/ratings.csv" --format ml-latest --feedback explicit)
run() {  # name, then train flags
  local name=$1; shift
  $E train "$@" --out "$W/$name.bin" --quiet
  echo "-- $name"
  $B "$W/$name.bin" queries="${QUERIES:-2000}" seed=1
}
run "ials lastfm" --model ials --factors 64 --iterations 15 --reg 1 --alpha 2 "${LASTFM[@]}"
run "bpr lastfm" --model bpr --factors 64 --iterations 50 "${LASTFM[@]}"
run "cooccurrence lastfm" --model cooccurrence "${LASTFM[@]}"
run "popularity lastfm" --model popularity "${LASTFM[@]}"
run "als ml-latest-small" --model als --factors 10 --reg 0.1 "${ML[@]}"
