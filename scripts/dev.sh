#!/usr/bin/env bash
# encore's developer entry point. Every command installs missing Debian
# packages first (scripts/install-deps.sh, needs root or sudo), so each works
# on a fresh Debian 12 machine.
#
#   scripts/dev.sh demo        build (release), run the main job (encore run
#                              examples/bigdatariver_batch.toml into encore-demo/),
#                              serve its snapshot and query it with curl
#   scripts/dev.sh quick       day-to-day: release build, unit + end-to-end tests
#                              (no sanitizers, no fuzzing)
#   scripts/dev.sh test        CI: build release + ASan/UBSan + fuzzers; run every
#                              test and each fuzzer for $FUZZ_SECONDS (default 30)
#   scripts/dev.sh build       build the release binary only (build/release/encore)
#   scripts/dev.sh python      build the Python package for /usr/bin/python3; the
#                              last line printed is the directory for PYTHONPATH
#   scripts/dev.sh bench       run the benchmarks in bench/ (slow; not part of test)
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${JOBS:-$(nproc)}"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

deps() { scripts/install-deps.sh; }

# Seconds since the previous call, for the timing lines each phase prints
# (README states build and test times from them).
phase_start=$SECONDS
took() { echo "== $1 took $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }

build() {  # build <preset> [targets...]
  local preset="$1"; shift
  if [ ! -f "build/$preset/build.ninja" ]; then
    cmake --preset "$preset" >/dev/null
  fi
  ninja -C "build/$preset" -j "$JOBS" "$@"
  took "build ($preset)"
}

run_fuzzers() {
  build fuzz
  local corpus_root="build/fuzz/corpus"
  for target in build/fuzz/fuzz/*_fuzz; do
    local name; name="$(basename "$target")"
    mkdir -p "$corpus_root/$name"
    local seeds="fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    echo "fuzz: $name for ${FUZZ_SECONDS}s"
    "$target" -max_total_time="$FUZZ_SECONDS" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=0 "$corpus_root/$name" $seeds >"build/fuzz/$name.log" 2>&1 || {
      echo "fuzz: $name FAILED; its log:"; tail -n 60 "build/fuzz/$name.log"; return 1; }
    grep -E '^Done [0-9]+ runs' "build/fuzz/$name.log" | sed "s/^/fuzz: $name: /" || true
  done
}

# The main job: the example pipeline on generated data, then one request to
# a server on its snapshot, and the commands to do it yourself.
demo() {
  local workdir=encore-demo
  build/release/encore run examples/bigdatariver_batch.toml --workdir "$workdir" "$@"
  local port user csv
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  csv=$(ls "$workdir"/out/top5/*.csv | head -n 1)
  user=$(awk -F, 'NR == 2 {print $1; exit}' "$csv")
  build/release/encore serve --store "$workdir/store" --port "$port" --threads 2 2>"$workdir/serve.log" &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo
  echo "== serving: curl -s http://127.0.0.1:$port/v1/users/$user/recommendations"
  curl -sS "http://127.0.0.1:$port/v1/users/$user/recommendations"; echo
  kill -TERM "$pid"; wait "$pid" || true
  echo
  echo "Serve it yourself, then ask for a user's recommendations:"
  echo "  build/release/encore serve --store $workdir/store --port 8080 &"
  echo "  curl -s http://127.0.0.1:8080/v1/users/$user/recommendations"
  echo
  echo "The web console (docs/CONSOLE.md): serve it with the read-only pages public and open the"
  echo "address it prints, http://127.0.0.1:8080/ui/ :"
  echo "  build/release/encore serve --store $workdir/store --port 8080 --console-public"
}

case "${1:-}" in
  demo)
    deps
    took "installing packages"
    build release encore
    demo "${@:2}"
    ;;
  build)
    deps
    build release
    ;;
  quick)
    deps
    took "installing packages"
    build release encore encore_tests link_shared encore_python  # every binary ctest runs
    echo "== tests (release build)"
    (cd build/release && ctest --output-on-failure -j "$JOBS" --timeout 600)
    took "tests (release)"
    ;;
  test)
    deps
    took "installing packages"
    build release
    build asan
    run_fuzzers
    took "fuzzers"
    echo "== tests under ASan + UBSan"
    (cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --output-on-failure -j "$JOBS" --timeout 600)
    took "tests (ASan + UBSan)"
    echo "== tests (release build)"
    (cd build/release && ctest --output-on-failure -j "$JOBS" --timeout 600)
    took "tests (release)"
    ;;
  python)
    deps
    build release encore_python >&2
    echo "$PWD/build/release/python"
    ;;
  bench)
    deps
    build release
    for b in bench/*.sh; do echo "== $b"; "$b"; done
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
