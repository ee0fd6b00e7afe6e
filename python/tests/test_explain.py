"""Explanations (encore/explain.h): contributions add up to the score."""

import numpy as np
import pytest

import encore

pytestmark = pytest.mark.skipif(not hasattr(encore._encore.Model, "explain"),
                                reason="built without encore/explain.h (before the ann merge)")


@pytest.mark.parametrize("cls", [encore.IALS, encore.ALS, encore.Cooccurrence, encore.Popularity])
def test_contributions_add_up(cls, user_items):
    model = cls().fit(user_items, show_progress=False)
    ids, _ = model.recommend(3, user_items[3], N=3)
    for item in ids:
        score, top, e = model.explain(3, None, int(item), N=1000)
        total = e["base"] + sum(c["contribution"] for c in e["items"])
        assert total == pytest.approx(score, rel=1e-4, abs=1e-5)
        assert len(top) <= len(user_items[3].indices)
        mags = [abs(c) for _, c in top]
        assert mags == sorted(mags, reverse=True)


def test_explain_fold_in_history(fitted, user_items):
    row = user_items[5]
    ids, scores = fitted.recommend(10**6, row, N=1, recalculate_user=True)
    score, top, e = fitted.explain(10**6, row, int(ids[0]))
    assert score == pytest.approx(float(scores[0]), rel=1e-3, abs=1e-4)
    assert {i for i, _ in top} <= set(row.indices.tolist())


def test_explain_errors(fitted, user_items):
    with pytest.raises(LookupError):
        fitted.explain(0, None, 10**6)
    with pytest.raises(LookupError):
        fitted.explain(10**6, None, 0)
