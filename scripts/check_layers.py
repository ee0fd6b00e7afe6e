#!/usr/bin/env python3
"""Checks encore's layering: a lower layer never includes a higher one.

The layers, lowest first (docs/ARCHITECTURE.md, "Layers"):

    util -> io -> data -> catalog -> features -> model -> rank -> eval
         -> experiment -> store -> publish -> workflow -> distributed -> stream -> serve
         -> pipeline -> console -> cli

Every folder under src/ is a layer and must be listed in LAYERS (a new folder
fails the check until it is given its place). Every public header
include/encore/X.h belongs to the layer that implements it (PUBLIC_HEADERS;
a new header fails the check until it is mapped). A file may include headers
of its own layer and of lower layers, whether it names them as
"LAYER/x.h" or as "encore/x.h"; public headers obey the same rule among
themselves. Unit tests (src/**/*_test.cc) obey it too; tests/, bench/ and
fuzz/ sit above everything and are not checked.

The Python bindings (python/src/) are a front end like the CLI, above
workflow: they may include public headers (include/encore/*.h) only, never a
src/ folder's internal header, so they call nothing the library facade does
not offer.

Usage:
    scripts/check_layers.py [--root DIR]   check a source tree (default: this repo)
    scripts/check_layers.py --self-test    plant violations in temporary trees
                                           and check that each one is caught

Exit status 0 when the tree is clean, 1 with one line per violation.
Run by CTest as the tests `layers` and `layers_self_test`.
"""

import argparse
import os
import re
import sys
import tempfile

# Lowest first. Folders marked (future) do not exist yet; their place is
# decided here so the first file in them is already checked.
LAYERS = [
    "util",        # Status, JSON writer, progress, time formatting
    "io",          # byte sources, record readers, id dictionaries, interaction logs
    "data",        # Dataset (matrices), input loading (encore/input.h), profile, generator
    "catalog",     # products: hierarchy levels, prices, sale windows, stock; keys of levels
    "features",    # member features (RFM, price percentile, primary level) and segments
    "model",       # model parameters, models (they only score), model files
    "rank",        # the query path: exclusions, adjustments, top-N, payload encoding
    "eval",        # splits, metrics, cross-validation, grids, the evaluation protocol
    "experiment",  # A/B declarations, sticky assignment, experiment reports
    "store",       # snapshot stores: bytes by key (LMDB, Redis, memory)
    "publish",     # a trained model -> store payloads
    "workflow",    # front-end-independent jobs: train-and-save, recommend-to-outputs
    "distributed", # MPI jobs: sharded input, partitioned ials/als, batch top-N over ranks
    "stream",      # live events: speed layer (totals, fold-in payloads), stream consumer
    "serve",       # HTTP server
    "pipeline",    # TOML pipelines, runs, outputs
    "console",     # the web console under /ui/ of encore serve (a serve extension)
    "cli",         # the encore command
]

# Public headers -> the layer implementing them.
PUBLIC_HEADERS = {
    "status.h": "util",
    "progress.h": "util",
    "chunked_vector.h": "io",
    "ids.h": "io",
    "interactions.h": "io",
    "obfuscate.h": "io",
    "event.h": "io",
    "reader.h": "io",
    "dataset.h": "data",
    "generate.h": "data",
    "input.h": "data",
    "profile.h": "data",
    "catalog.h": "catalog",
    "product_score.h": "catalog",
    "member_features.h": "features",
    "model_io.h": "model",
    "params.h": "model",
    "defaults.h": "model",
    "recommender.h": "model",
    "explain.h": "model",
    "ann.h": "rank",
    "batch.h": "rank",
    "rank.h": "rank",
    "retail.h": "rank",
    "retail_feeds.h": "rank",
    "evaluate.h": "eval",
    "tune.h": "eval",
    "experiment.h": "experiment",
    "replay.h": "experiment",
    "store.h": "store",
    "publish.h": "publish",
    "workflow.h": "workflow",
    "stream.h": "stream",
    "serve.h": "serve",
    "pipeline.h": "pipeline",
    "postgres_catalog.h": "pipeline",
}

# Known exceptions: (file, included header) -> why and until when. An entry
# that no longer matches anything fails the check, so the list only shrinks.
ALLOWED = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
SOURCE_EXT = (".h", ".cc", ".hpp", ".cpp")


def rank(layer):
    return LAYERS.index(layer)


def next_layer(root, layer):
    """The next layer above `layer` that has a folder in root/src (None at the top)."""
    for above in LAYERS[rank(layer) + 1:]:
        if os.path.isdir(os.path.join(root, "src", above)):
            return above
    return None


def header_layer(include):
    """The layer of an included header, or None for headers outside the layering."""
    parts = include.split("/")
    if len(parts) == 2 and parts[0] == "encore":
        return PUBLIC_HEADERS.get(parts[1], "?")
    if len(parts) >= 2 and parts[0] in LAYERS:
        return parts[0]
    return None


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


def check(root):
    errors = []
    used = set()
    files = []  # (relative path, layer)
    src = os.path.join(root, "src")
    if os.path.isdir(src):
        for entry in sorted(os.listdir(src)):
            full = os.path.join(src, entry)
            if not os.path.isdir(full):
                continue
            if entry not in LAYERS:
                errors.append(
                    "src/%s/: folder not in the layering; give it its place in LAYERS of "
                    "scripts/check_layers.py and in docs/ARCHITECTURE.md" % entry)
                continue
            for dirpath, _, names in os.walk(full):
                for name in sorted(names):
                    if name.endswith(SOURCE_EXT):
                        path = os.path.relpath(os.path.join(dirpath, name), root)
                        files.append((path, entry))
    pub = os.path.join(root, "include", "encore")
    if os.path.isdir(pub):
        for name in sorted(os.listdir(pub)):
            if not name.endswith(".h"):
                continue
            path = os.path.relpath(os.path.join(pub, name), root)
            if name not in PUBLIC_HEADERS:
                errors.append("%s: public header without a layer; map it in PUBLIC_HEADERS of "
                              "scripts/check_layers.py" % path)
                continue
            files.append((path, PUBLIC_HEADERS[name]))
    for path, layer in files:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = strip_comments(f.read())
        for include in INCLUDE.findall(text):
            target = header_layer(include)
            if target is None:
                continue
            if target == "?":
                errors.append("%s: includes \"%s\", a public header without a layer; map it "
                              "in PUBLIC_HEADERS of scripts/check_layers.py" % (path, include))
                continue
            if rank(target) <= rank(layer):
                continue
            # A test (foo_test.cc) is linked into the test binary, not into its
            # layer's library; it may exercise its layer through the layer just
            # above (the model contract test runs every model through the ranker).
            if path.endswith("_test.cc") and next_layer(root, layer) == target:
                continue
            key = (path.replace(os.sep, "/"), include)
            if key in ALLOWED:
                used.add(key)
                continue
            errors.append(
                "%s: layer %s includes \"%s\" of the higher layer %s; move the code to the "
                "right layer or pass what it needs from above (layers, lowest first: %s)"
                % (path, layer, include, target, " -> ".join(LAYERS)))
    bindings = os.path.join(root, "python", "src")
    if os.path.isdir(bindings):
        for dirpath, _, names in os.walk(bindings):
            for name in sorted(names):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                    text = strip_comments(f.read())
                for include in INCLUDE.findall(text):
                    target = header_layer(include)
                    if target is None or include.startswith("encore/"):
                        continue
                    errors.append(
                        "%s: the Python bindings include \"%s\", an internal header of layer "
                        "%s; bindings use the library facade (include/encore/*.h) only: add "
                        "what they need to a public header" % (path, include, target))
    if root == default_root():
        for key, why in sorted(ALLOWED.items()):
            if key not in used:
                errors.append("%s: the allowed include of \"%s\" (%s) is gone; remove the entry "
                              "from ALLOWED in scripts/check_layers.py" % (key[0], key[1], why))
    return errors


def default_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def self_test():
    """Each planted case must give exactly the expected verdict."""
    cases = [
        # (name, files, expected substring of an error or None for clean)
        ("clean", {
            "src/io/reader.cc": '#include "encore/reader.h"\n#include "util/json_writer.h"\n',
            "src/cli/main.cc": '#include "pipeline/config.h"\n#include "encore/serve.h"\n',
            "include/encore/reader.h": '#include "encore/status.h"\n',
        }, None),
        ("upward folder include", {
            "src/io/reader.cc": '#include "model/topn.h"\n',
        }, 'layer io includes "model/topn.h" of the higher layer model'),
        ("upward include through a public header", {
            "src/data/dataset.cc": '#include "encore/evaluate.h"\n',
        }, 'layer data includes "encore/evaluate.h" of the higher layer eval'),
        ("public header including a higher one", {
            "include/encore/reader.h": '#include "encore/recommender.h"\n',
        }, 'layer io includes "encore/recommender.h" of the higher layer model'),
        ("future folder below an existing one", {
            "src/catalog/catalog.cc": '#include "rank/ranker.h"\n',
        }, 'layer catalog includes "rank/ranker.h" of the higher layer rank'),
        ("undeclared folder", {
            "src/gadgets/x.cc": '#include "util/json_writer.h"\n',
        }, "src/gadgets/: folder not in the layering"),
        ("unmapped public header", {
            "include/encore/gadget.h": '#include "encore/status.h"\n',
        }, "public header without a layer"),
        ("python bindings including an internal header", {
            "python/src/module.cc": '#include "encore/rank.h"\n#include "model/factor_model.h"\n',
        }, 'the Python bindings include "model/factor_model.h"'),
        ("python bindings on the facade", {
            "python/src/module.cc": '#include "encore/workflow.h"\n#include <pybind11/numpy.h>\n',
        }, None),
        ("commented-out include is ignored", {
            "src/io/reader.cc": '// #include "serve/router.h"\n/* #include "cli/x.h" */\n',
        }, None),
    ]
    failures = 0
    for name, files, expected in cases:
        with tempfile.TemporaryDirectory() as root:
            for path, text in files.items():
                write(root, path, text)
            errors = check(root)
        if expected is None:
            ok = not errors
        else:
            ok = any(expected in e for e in errors)
        print("%s: %s%s" % ("ok" if ok else "FAILED", name,
                            "" if ok else " -> got %r" % errors))
        failures += 0 if ok else 1
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=default_root())
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    errors = check(os.path.abspath(args.root))
    for e in errors:
        print(e)
    if errors:
        print("%d layering violation(s)" % len(errors))
        return 1
    print("layers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
