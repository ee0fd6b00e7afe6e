"""Fixtures of the encore pytest suite: generated data only (no network, no ../shared)."""

import os
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

ROOT = os.environ.get("ENCORE_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_user_items(users=300, items=120, per_user=12, seed=7):
    """A users x items count matrix with taste groups, so models have structure to learn."""
    rng = np.random.default_rng(seed)
    groups = 4
    rows, cols, vals = [], [], []
    for u in range(users):
        g = u % groups
        own = np.arange(g, items, groups)  # the group's items
        k = min(per_user, len(own))
        picked = rng.choice(own, size=k - 2, replace=False)
        other = rng.choice(items, size=2, replace=False)
        for i in set(picked.tolist()) | set(other.tolist()):
            rows.append(u)
            cols.append(i)
            vals.append(float(rng.integers(1, 5)))
    m = sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(users, items))
    m.sum_duplicates()
    return m


@pytest.fixture(scope="session")
def user_items():
    return make_user_items()


@pytest.fixture(scope="session")
def encore_bin():
    """The encore CLI: $ENCORE_BIN (set by ctest), else build/release/encore."""
    path = os.environ.get("ENCORE_BIN") or os.path.join(ROOT, "build", "release", "encore")
    if not os.path.exists(path):
        pytest.fail("the encore CLI is not built (%s); run ninja -C build/release encore" % path)
    return path


@pytest.fixture(scope="session")
def fitted(user_items):
    import encore
    model = encore.IALS(factors=8, iterations=5, reg=0.05, alpha=2.0, seed=42, threads=2)
    model.fit(user_items, show_progress=False)
    return model
