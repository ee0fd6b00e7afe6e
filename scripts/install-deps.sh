#!/usr/bin/env bash
# Installs every Debian package encore needs to build, test, fuzz and benchmark.
# Idempotent: packages already installed are skipped, and apt-get runs only when
# something is missing. Must run as root (or via sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ccache
  clang-14 libclang-rt-14-dev libomp-14-dev clang-format
  # libraries
  zlib1g-dev libssl-dev libcli11-dev libsimdjson-dev libabsl-dev libeigen3-dev
  libboost-dev liblmdb-dev libhiredis-dev libpqxx-dev libpq-dev libtomlplusplus-dev
  libhnswlib-dev  # header-only HNSW (approximate search, src/rank/ann.cc)
  # servers the integration tests start themselves, and an HTTP client
  redis-server postgresql-15 curl
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev time bc
  # the Python package (python/): bindings, and what its tests use
  pybind11-dev python3-dev python3-numpy python3-scipy python3-pandas python3-pytest
  python3-setuptools python3-venv python3-pip
  # serving benchmark (bench/serve_bench.sh): load generator and reference server
  wrk nginx
  # distributed training and batch jobs (src/distributed, mpirun): OpenMPI
  libopenmpi-dev openmpi-bin
  # the console's browser tests (ctest console_browser): Chromium driven by
  # playwright-core from npm
  chromium chromium-driver
)
# node and npm (the console's npm packages): Debian's, unless a node is
# already installed (a nodesource node brings its own npm, which Debian's npm
# package conflicts with).
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

# The console's npm packages (console/package-lock.json): the charting
# library embedded into the binary and playwright-core for the browser
# tests. Installed into console/node_modules (git-ignored); the registry is
# reached only when the lock changed or the folder is missing.
npm_packages() {
  local dir; dir="$(cd "$(dirname "$0")/.." && pwd)/console"
  if [ -f "$dir/node_modules/.package-lock.json" ] &&
     cmp -s "$dir/package-lock.json" "$dir/node_modules/.encore-lock"; then
    return 0
  fi
  echo "install-deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) &&
    cp "$dir/package-lock.json" "$dir/node_modules/.encore-lock"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  npm_packages
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
npm_packages
