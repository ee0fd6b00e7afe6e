#!/usr/bin/env python3
"""The console's browser tests (ctest console_browser; docs/CONSOLE.md).

Generates data, runs a small pipeline (runs/, a profile, evaluated models, a
published snapshot), writes an experiment and its logged events, starts
`encore serve` on a free loopback port with the admin key, and runs
console/tests/browser_test.mjs (playwright-core driving Debian's Chromium).
Screenshots go to ARTIFACTS (default: build/<preset>/test-artifacts/console).

Skips (exit 77) with the reason when node, Chromium or playwright-core are
absent; scripts/install-deps.sh installs all three.

Usage: console_browser_test.py ENCORE_BINARY SOURCE_DIR ARTIFACT_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(why):
    print("SKIPPED: console browser tests: " + why + "; run scripts/install-deps.sh")
    sys.exit(SKIP)


def main():
    encore, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    artifacts = os.path.abspath(sys.argv[3])
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if node is None:
        skip("node is not installed")
    if not os.path.exists(chromium):
        skip("chromium is not installed")
    if not os.path.isdir(os.path.join(source, "console", "node_modules", "playwright-core")):
        skip("console/node_modules/playwright-core is missing (npm ci in console/)")
    with tempfile.TemporaryDirectory(prefix="encore-console-test-") as tmp:
        run_test(encore, source, artifacts, node, chromium, tmp)


def run_test(encore, source, artifacts, node, chromium, tmp):
    with open(os.path.join(tmp, "p.toml"), "w") as f:
        f.write("""
name = "console_test"
workdir = "work"
[sources.events]
generate = { profile = "retail", users = 300, items = 120, rows = 6000, seed = 7 }
[prepare]
weights = { view = 1, cart = 0, wishlist = 0, purchase = 3 }
[models.ials]
kind = "ials"
params = { factors = 8, iterations = 5, threads = 1 }
[models.ials.evaluate]
split = "user"
test_fraction = 0.2
metrics = ["precision@5", "ndcg@5"]
grid = { factors = [4, 8] }
[models.pop]
kind = "popularity"
[models.pop.evaluate]
split = "user"
test_fraction = 0.2
metrics = ["precision@5", "ndcg@5"]
[recommend.top5]
model = "ials"
n = 5
[outputs.csv]
kind = "csv"
from = "top5"
path = "out/top5"
[outputs.serving]
kind = "publish"
model = "ials"
store = "store"
n = 5
""")
    # First a retail run with member segments into the same workdir: the
    # models page shows its per-segment metrics (segment model against the
    # global one).
    with open(os.path.join(tmp, "retail.toml"), "w") as f:
        f.write("""
name = "console_retail"
workdir = "work"
[sources.fashion]
generate = { profile = "fashion", users = 900, items = 400, rows = 30000, seed = 11 }
user = "member"
item = "product"
event = "event"
time = "timestamp"
[models.affinity]
kind = "ials"
params = { factors = 8, iterations = 4, threads = 1 }
[retail]
source = "fashion"
model = "affinity"
as_of = "2026-06-01T00:00:00Z"
[retail.segments]
by = ["division"]
min_members = 50
[outputs.feeds]
kind = "retail"
path = "out/feeds"
store = "retail-store"
""")
    subprocess.run([encore, "run", os.path.join(tmp, "retail.toml")], check=True, cwd=tmp,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Two runs: the runs page draws metrics over runs.
    for _ in range(2):
        subprocess.run([encore, "run", os.path.join(tmp, "p.toml")], check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = os.path.join(tmp, "work")
    csv = sorted(n for n in os.listdir(os.path.join(work, "out", "top5")) if n.endswith(".csv"))[0]
    with open(os.path.join(work, "out", "top5", csv)) as f:
        users = sorted({line.split(",")[0] for line in f.read().splitlines()[1:]})
    user = users[0]

    # The experiment and its logged events: every user exposed once to
    # their variant, a click on every third answer, a purchase on every
    # seventh.
    exp = os.path.join(tmp, "exp.toml")
    with open(exp, "w") as f:
        f.write('name = "console-test"\nsalt = "s1"\n'
                '[[variant]]\nname = "control"\nshare = 50\n'
                '[[variant]]\nname = "treatment"\nshare = 50\n')
    out = subprocess.run([encore, "experiment", "check", exp] +
                         [a for u in users for a in ("--user", u)],
                         check=True, capture_output=True, text=True).stdout
    variant = dict(line.split("\t") for line in out.splitlines())
    events = os.path.join(tmp, "events.jsonl")
    with open(events, "w") as f:
        for k, u in enumerate(users):
            rec = "r%016x" % k
            f.write('{"user":"%s","item":"i1","event":"exposure","rec":"%s","variant":"%s"}\n'
                    % (u, rec, variant[u]))
            if k % 3 == 0 or (variant[u] == "treatment" and k % 5 == 0):
                f.write('{"user":"%s","item":"i1","event":"click","rec":"%s"}\n' % (u, rec))
            if k % 7 == 0:
                f.write('{"user":"%s","item":"i1","event":"purchase","rec":"%s","price":10,'
                        '"quantity":1}\n' % (u, rec))
    key = os.path.join(tmp, "key")
    with open(key, "w") as f:
        f.write("console-test-key\n")
    os.chmod(key, 0o600)

    log_path = os.path.join(tmp, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [encore, "serve", "--store", os.path.join(work, "store"), "--port", "0", "--threads", "2",
         "--api-key-file", key, "--experiment", exp, "--console-events", events],
        stdout=subprocess.DEVNULL, stderr=log)
    try:
        # Wait for the line naming the console's address (bounded).
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and server.poll() is None:
            with open(log_path) as f:
                m = re.search(r"console at (http://[0-9.]+:[0-9]+)/ui/", f.read())
            if m:
                url = m.group(1)
            else:
                time.sleep(0.05)
        if url is None:
            with open(log_path) as f:
                print(f.read())
            raise SystemExit("encore serve did not print the console's address")
        print("console at " + url + "/ui/")
        env = dict(os.environ, ENCORE_URL=url, ENCORE_KEY="console-test-key", ENCORE_USER=user,
                   ARTIFACTS=artifacts, CHROMIUM=chromium,
                   NODE_PATH=os.path.join(source, "console", "node_modules"))
        result = subprocess.run([node, os.path.join(source, "console", "tests", "browser_test.mjs")],
                                env=env, cwd=os.path.join(source, "console"), timeout=500)
        print("screenshots in " + artifacts)
        sys.exit(result.returncode)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


if __name__ == "__main__":
    main()
