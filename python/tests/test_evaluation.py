"""Evaluation: the METRICS.md definitions through the C++ metric code."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

import encore


def reference_metrics(model, train, test, k):
    """The docs/METRICS.md definitions, written out in Python."""
    sums = dict(precision=0.0, recall=0.0, map=0.0, ndcg=0.0, hit=0.0)
    n = 0
    for u in range(test.shape[0]):
        relevant = set(test[u].indices)
        if not relevant:
            continue
        ids, _ = model.recommend(u, train[u], N=k)
        hits = [1 if i in relevant else 0 for i in ids[:k]]
        sums["precision"] += sum(hits) / k
        sums["recall"] += sum(hits) / len(relevant)
        ap, h = 0.0, 0
        for rank, hit in enumerate(hits, 1):
            if hit:
                h += 1
                ap += h / rank
        sums["map"] += ap / min(k, len(relevant))
        dcg = sum(hit / math.log2(rank + 1) for rank, hit in enumerate(hits, 1))
        idcg = sum(1 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
        sums["ndcg"] += dcg / idcg
        sums["hit"] += 1.0 if any(hits) else 0.0
        n += 1
    return {key: value / n for key, value in sums.items()}


def test_split_partitions_the_data(user_items):
    train, test = encore.train_test_split(user_items, train_percentage=0.8, random_state=3)
    assert train.shape == test.shape == user_items.shape
    assert train.nnz + test.nnz == user_items.nnz
    assert abs(test.nnz - round(0.2 * user_items.nnz)) <= 1
    np.testing.assert_allclose((train + test).toarray(), user_items.toarray())
    again, _ = encore.train_test_split(user_items, train_percentage=0.8, random_state=3)
    assert (again != train).nnz == 0  # seeded
    other, _ = encore.train_test_split(user_items, train_percentage=0.8, random_state=4)
    assert (other != train).nnz > 0
    with pytest.raises(ValueError, match="train_percentage"):
        encore.train_test_split(user_items, train_percentage=1.5)


def test_metrics_follow_the_definitions(user_items):
    train, test = encore.train_test_split(user_items, 0.8, random_state=1)
    model = encore.IALS(factors=8, iterations=5, seed=2, threads=1).fit(train, show_progress=False)
    got = encore.ranking_metrics_at_k(model, train, test, K=10)
    want = reference_metrics(model, train, test, 10)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert encore.precision_at_k(model, train, test, K=10) == got["precision"]
    assert encore.ndcg_at_k(model, train, test, K=10) == got["ndcg"]
    assert encore.mean_average_precision_at_k(model, train, test, K=10) == got["map"]
    assert 0 < got["precision"] <= 1  # the taste groups are learnable
    # Without train_user_items the model's training items are excluded: same here.
    assert encore.ranking_metrics_at_k(model, None, test, K=10) == got


def test_metrics_beat_popularity(user_items):
    train, test = encore.train_test_split(user_items, 0.8, random_state=1)
    ials = encore.IALS(factors=8, iterations=8, seed=2).fit(train, show_progress=False)
    pop = encore.Popularity().fit(train, show_progress=False)
    assert encore.ndcg_at_k(ials, train, test) > encore.ndcg_at_k(pop, train, test)


def test_cross_validate(user_items):
    cv = encore.cross_validate(encore.IALS(factors=4, iterations=3, seed=1), user_items,
                               folds=3, metrics="precision,ndcg@5", K=10)
    assert set(cv) == {"precision@10", "ndcg@5"}
    for value in cv.values():
        assert len(value["folds"]) == 3
        assert value["mean"] == pytest.approx(np.mean(value["folds"]))
        assert value["std"] == pytest.approx(np.std(value["folds"], ddof=1))
    with pytest.raises(ValueError, match="folds must be"):
        encore.cross_validate(encore.Popularity(), user_items, folds=1)
    with pytest.raises(ValueError):
        encore.cross_validate(encore.Popularity(), user_items, metrics="nonsense")


def test_time_split_of_interactions():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, 1, 1, 2, 2, 2],
                       "item": ["a", "b", "c", "a", "b", "d"],
                       "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                               "2024-01-01", "2024-01-05", "2024-01-06"])})
    data = encore.Interactions.from_frame(df, time_col="time")
    train, test = encore.train_test_split(data, method="time", leave_k=1)
    assert isinstance(train, encore.Interactions)
    held = test.to_frame()
    assert sorted(zip(held["user"], held["item"])) == [("1", "c"), ("2", "d")]
    assert train.nnz == 4
    with pytest.raises(RuntimeError):  # a time split needs times
        encore.train_test_split(encore.Interactions.from_frame(df[["user", "item"]]),
                                method="time", leave_k=1)
