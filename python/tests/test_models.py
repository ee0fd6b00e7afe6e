"""The implicit-compatible model API: signatures, shapes, fold-in, factors, progress."""

import inspect

import numpy as np
import pytest
import scipy.sparse as sp

import encore


def test_model_classes_follow_the_registry():
    kinds = encore.model_kinds()
    for cls in (encore.IALS, encore.ALS, encore.Cooccurrence, encore.Popularity):
        assert cls.kind in kinds
        assert cls.__doc__ and cls.__init__.__doc__
    # Any registered kind works through the base class, the named classes are thin.
    m = encore.Model("ials", factors=4)
    assert m.factors == 4 and m.kind == "ials"
    with pytest.raises(ValueError, match="unknown model 'nope'; known models: "):
        encore.Model("nope")


def test_parameters_are_the_cli_table(user_items):
    m = encore.IALS(factors=16, iterations=3, reg=0.5, alpha=4.0, seed=7, threads=1)
    p = m.get_params()
    assert (p["factors"], p["iterations"], p["seed"], p["threads"]) == ("16", "3", "7", "1")
    assert m.reg == pytest.approx(0.5) and m.alpha == pytest.approx(4.0)
    names = {r["name"] for r in encore.params("ials")}
    assert {"factors", "iterations", "reg", "alpha", "seed", "threads"} <= names
    # implicit's names for the same parameters.
    m2 = encore.IALS(regularization=0.5, num_threads=1, random_state=7)
    assert m2.get_params()["reg"] == p["reg"] and m2.get_params()["seed"] == "7"
    with pytest.raises(TypeError, match="unexpected parameter 'factorz'"):
        encore.IALS(factorz=3)
    with pytest.raises(TypeError, match="unexpected parameter 'alpha'"):
        encore.Popularity(alpha=3)


def test_fit_and_recommend_one_user(fitted, user_items):
    ids, scores = fitted.recommend(0, user_items[0], N=10)
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    assert ids.shape == (10,) and scores.shape == (10,)
    assert np.all(np.diff(scores) <= 0)
    liked = set(user_items[0].indices)
    assert not liked & set(ids.tolist())
    # Without filtering, liked items may come back; scores are the dot products.
    ids2, scores2 = fitted.recommend(0, user_items[0], N=5, filter_already_liked_items=False)
    expected = fitted.item_factors[ids2] @ fitted.user_factors[0]
    np.testing.assert_allclose(scores2, expected, rtol=1e-5, atol=1e-6)


def test_recommend_batch_matches_single(fitted, user_items):
    users = np.array([3, 1, 4, 1, 5])
    ids, scores = fitted.recommend(users, user_items[users], N=7)
    assert ids.shape == (5, 7) and scores.shape == (5, 7)
    for r, u in enumerate(users):
        i1, s1 = fitted.recommend(int(u), user_items[u], N=7)
        np.testing.assert_array_equal(ids[r], i1)
        np.testing.assert_array_equal(scores[r], s1)
    with pytest.raises(ValueError, match="1 row for every user"):
        fitted.recommend(users, user_items[:2], N=3)


def test_filter_items_and_items(fitted, user_items):
    ids, _ = fitted.recommend(2, user_items[2], N=10)
    banned = ids[:3]
    ids2, _ = fitted.recommend(2, user_items[2], N=10, filter_items=banned)
    assert not set(banned.tolist()) & set(ids2.tolist())
    np.testing.assert_array_equal(ids2[:7], ids[3:])
    allowed = np.array([5, 9, 17, 33, 60, 61])
    ids3, scores3 = fitted.recommend(2, user_items[2], N=10, items=allowed)
    assert set(ids3.tolist()) <= set(allowed.tolist()) - set(user_items[2].indices)
    assert len(ids3) <= len(allowed)
    with pytest.raises(ValueError, match="Can't set both items and filter_items"):
        fitted.recommend(2, user_items[2], items=allowed, filter_items=banned)


def test_batch_pads_short_lists(user_items):
    model = encore.IALS(factors=4, iterations=2, seed=1)
    model.fit(user_items, show_progress=False)
    ids, scores = model.recommend([0, 1], user_items[[0, 1]], N=5, items=[1, 2, 3])
    assert ids.shape == (2, 5)
    assert np.all(ids[:, 3:] == -1) and np.all(np.isneginf(scores[:, 3:]))


def test_fold_in_a_new_user(fitted, user_items):
    row = user_items[10]
    ids_new, scores_new = fitted.recommend(10**6, row, N=10, recalculate_user=True)
    assert len(ids_new) == 10 and not set(row.indices) & set(ids_new.tolist())
    # The fold-in of a known user's row solves the user step of training, so
    # it recommends mostly the same items as the trained user.
    ids_old, _ = fitted.recommend(10, row, N=10)
    assert len(set(ids_new.tolist()) & set(ids_old.tolist())) >= 5
    with pytest.raises(ValueError, match="needs user_items"):
        fitted.recommend(10**6, None, recalculate_user=True)


def test_recommend_without_user_items_excludes_training_items(fitted, user_items):
    ids, _ = fitted.recommend(4, None, N=10)
    ids2, _ = fitted.recommend(4, user_items[4], N=10)
    np.testing.assert_array_equal(ids, ids2)


def test_similar_items_and_users(fitted):
    ids, scores = fitted.similar_items(3, N=5)
    assert ids.shape == (5,) and 3 not in ids.tolist()
    y = fitted.item_factors
    cos = y @ y[3] / (np.linalg.norm(y, axis=1) * np.linalg.norm(y[3]))
    np.testing.assert_allclose(scores, cos[ids], rtol=1e-4)
    batch_ids, _ = fitted.similar_items([3, 4], N=5)
    np.testing.assert_array_equal(batch_ids[0], ids)
    uids, uscores = fitted.similar_users(7, N=4)
    assert uids[0] == 7 and uscores[0] == pytest.approx(1.0, abs=1e-5)
    assert uids.shape == (4,)


def test_factors_are_views_without_copies(user_items):
    model = encore.IALS(factors=6, iterations=2, seed=3)
    model.fit(user_items, show_progress=False)
    a, b = model.user_factors, model.user_factors
    assert a.shape == (user_items.shape[0], 6) and a.dtype == np.float32
    assert np.shares_memory(a, b)  # the model's own memory, not copies
    assert not a.flags.writeable
    before = a.copy()
    model.fit(user_items, show_progress=False)  # refit: the old view stays valid
    np.testing.assert_array_equal(a, before)
    with pytest.raises(RuntimeError, match="has no factors"):
        encore.Popularity().fit(user_items, show_progress=False).user_factors


def test_every_kind_fits_and_recommends(user_items):
    for cls in (encore.IALS, encore.ALS, encore.Cooccurrence, encore.Popularity, encore.EASE):
        model = cls().fit(user_items, show_progress=False)
        ids, scores = model.recommend([0, 1], user_items[[0, 1]], N=5)
        assert ids.shape == (2, 5), cls
        assert np.all(np.isfinite(scores[ids >= 0]))


def test_fit_from_dataframe_keeps_ids():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cat", "cat", "cat"],
                       "item": ["x", "y", "x", "z", "y", "z", "w"],
                       "value": [1, 2, 1, 3, 1, 1, 5]})
    model = encore.Popularity().fit(df, show_progress=False)
    assert list(model.user_ids) == ["ann", "bob", "cat"]
    assert list(model.item_ids) == ["x", "y", "z", "w"]
    u = model.user_index("ann")
    ids, _ = model.recommend(u, None, N=2)
    assert set(model.item_ids[ids]) == {"z", "w"}
    assert model.item_index(["w", "nope"]).tolist() == [3, -1]
    inter = encore.Interactions.from_frame(df, value_col="value")
    assert inter.shape == (3, 4) and inter.nnz == 7
    assert inter.user_items[2, 3] == 5
    with pytest.raises(KeyError, match="column 'customer'"):
        encore.Interactions.from_frame(df, user_col="customer")


def test_dataframe_event_weights():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, 1, 2], "item": [10, 11, 10],
                       "event": ["view", "buy", "view"]})
    inter = encore.Interactions.from_frame(df, event_col="event", weights={"view": 1, "buy": 5})
    m = inter.user_items.toarray()
    assert m.tolist() == [[1.0, 5.0], [1.0, 0.0]]


def test_progress_callback(user_items):
    seen = []
    model = encore.IALS(factors=4, iterations=4, seed=1)
    model.fit(user_items, show_progress=False, callback=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_callback_error_is_raised_after_fit(user_items):
    def boom(done, total):
        raise KeyError("stop")
    model = encore.IALS(factors=4, iterations=3, seed=1)
    with pytest.raises(KeyError, match="stop"):
        model.fit(user_items, show_progress=False, callback=boom)


def test_signatures_match_implicit():
    sig = inspect.signature(encore.IALS.recommend)
    assert list(sig.parameters) == ["self", "userid", "user_items", "N",
                                     "filter_already_liked_items", "filter_items",
                                     "recalculate_user", "items"]
    assert sig.parameters["N"].default == 10
    assert list(inspect.signature(encore.IALS.similar_items).parameters)[:3] == \
        ["self", "itemid", "N"]
    assert list(inspect.signature(encore.precision_at_k).parameters)[:4] == \
        ["model", "train_user_items", "test_user_items", "K"]
    assert list(inspect.signature(encore.train_test_split).parameters)[:3] == \
        ["ratings", "train_percentage", "random_state"]


def test_every_public_name_has_a_docstring():
    for name in encore.__all__:
        obj = getattr(encore, name)
        assert obj.__doc__, name
        if isinstance(obj, type):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert member.__doc__, "%s.%s" % (name, attr)


def test_tqdm_bar_when_installed(user_items, monkeypatch):
    import sys
    import types
    bars = []

    class FakeBar:
        def __init__(self, total, desc):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True
    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    encore.IALS(factors=4, iterations=3).fit(user_items)
    assert len(bars) == 1
    assert (bars[0].total, bars[0].n, bars[0].desc, bars[0].closed) == (3, 3, "ials", True)
    encore.IALS(factors=4, iterations=3).fit(user_items, show_progress=False)
    assert len(bars) == 1


def test_kind_defaults_and_spark_preset():
    # Unset parameters start at the kind's measured defaults (docs/QUALITY.md,
    # "Defaults"); defaults="spark" gives Spark's; given values always win.
    assert encore.SVDpp().get_params()["factors"] == "128"
    assert encore.SVDpp().get_params()["learning_rate"] == "0.007"
    assert encore.ALS().get_params()["biases"] == "true"
    assert encore.SVDpp(defaults="spark").get_params()["factors"] == "10"
    assert encore.ALS(defaults="spark", factors=4).get_params()["factors"] == "4"
    assert encore.ALS(biases=False).get_params()["biases"] == "false"
    assert encore.IALS().get_params()["factors"] == "10"
    with pytest.raises(ValueError, match="spark"):
        encore.ALS(defaults="mllib")
