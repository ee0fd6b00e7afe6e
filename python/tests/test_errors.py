"""Bad input raises clean Python exceptions with the CLI's messages; never a crash."""

import subprocess

import numpy as np
import pytest
import scipy.sparse as sp

import encore


def test_not_csr_inputs(user_items):
    model = encore.IALS(factors=4, iterations=1)
    with pytest.raises(TypeError, match="must be a scipy.sparse matrix"):
        model.fit(user_items.toarray())
    with pytest.raises(TypeError, match="must be a scipy.sparse matrix"):
        model.fit([[1, 0], [0, 1]])
    # Other sparse formats are converted (what a scipy user expects).
    model.fit(user_items.tocoo(), show_progress=False)
    assert model.fitted


def test_wrong_dtypes(user_items):
    model = encore.IALS(factors=4, iterations=1)
    bad = user_items.astype(np.complex64)
    with pytest.raises(TypeError, match="dtype complex64"):
        model.fit(bad)
    model.fit(user_items.astype(np.int64), show_progress=False)
    model.fit(user_items.astype(bool), show_progress=False)
    with pytest.raises(TypeError, match="integer row/column numbers"):
        model.recommend("zero", user_items[0])
    with pytest.raises(TypeError, match="N must be an integer"):
        model.recommend(0, user_items[0], N=2.5)


def test_nan_and_infinity(user_items):
    for bad_value in (np.nan, np.inf):
        m = user_items.copy()
        m.data[5] = bad_value
        with pytest.raises(ValueError, match="not a finite number"):
            encore.IALS(factors=4, iterations=1).fit(m)


def test_negative_values_are_defined(user_items):
    # Negative values are allowed (ials: a dislike with confidence 1 + alpha*|v|,
    # as in implicit); every model fits and returns finite scores.
    m = user_items.copy()
    m.data[::3] *= -1
    for cls in (encore.IALS, encore.ALS, encore.Cooccurrence, encore.Popularity):
        model = cls().fit(m, show_progress=False)
        ids, scores = model.recommend([0, 1], m[[0, 1]], N=5)
        assert np.all(np.isfinite(scores[ids >= 0]))


def test_out_of_range_ids(fitted, user_items):
    with pytest.raises(LookupError, match="userid 100000 is not in the model"):
        fitted.recommend(100000, user_items[0])
    with pytest.raises(LookupError, match="userid -1 is not in the model"):
        fitted.recommend(-1, user_items[0])
    with pytest.raises(LookupError, match="filter_items holds item 999"):
        fitted.recommend(0, user_items[0], filter_items=[999])
    with pytest.raises(LookupError, match="items holds item -3"):
        fitted.recommend(0, user_items[0], items=[-3])
    with pytest.raises(LookupError, match="itemid 120 is not in the model"):
        fitted.similar_items(120)
    wide = sp.csr_matrix((np.ones(1, dtype=np.float32), ([0], [499])), shape=(1, 500))
    with pytest.raises(LookupError, match="holds item 499"):
        fitted.recommend(0, wide, recalculate_user=True)
    with pytest.raises(ValueError, match="N must be >= 0"):
        fitted.recommend(0, user_items[0], N=-1)


def test_bad_parameters_use_the_cli_messages(encore_bin, tmp_path):
    with pytest.raises(ValueError) as e:
        encore.IALS(factors=0)
    # The CLI says the same for the same value.
    data = tmp_path / "d.csv"
    data.write_text("user,item\n1,2\n")
    cli = subprocess.run([encore_bin, "train", "--input", str(data), "--model", "ials",
                          "--factors", "0", "--out", str(tmp_path / "m")],
                         capture_output=True, text=True)
    assert cli.returncode != 0
    assert str(e.value) in cli.stderr
    with pytest.raises(ValueError, match="reg"):
        encore.IALS(reg="lots")


def test_missing_and_corrupt_model_files(encore_bin, tmp_path):
    missing = str(tmp_path / "missing.model")
    with pytest.raises(encore.Error) as e:
        encore.load(missing)
    cli = subprocess.run([encore_bin, "recommend", "--model-file", missing, "--out",
                          str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert cli.returncode != 0
    assert "encore: error: " + str(e.value) in cli.stderr
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"ENCOREMD" + b"\x01\x00\x00\x00" + b"\xff" * 10)
    with pytest.raises(encore.CorruptionError, match="bad.model"):
        encore.load(bad)


def test_unfitted_model():
    with pytest.raises(RuntimeError, match="not fitted; call fit"):
        encore.IALS().recommend(0, None)
    with pytest.raises(RuntimeError, match="not fitted"):
        encore.IALS().save("/tmp/never-written.model")


def test_unsorted_and_duplicate_csr_entries_are_canonicalised():
    m = sp.csr_matrix((np.array([1.0, 2.0, 3.0], dtype=np.float32), np.array([2, 0, 2]),
                       np.array([0, 3, 3])), shape=(2, 3))
    model = encore.Popularity().fit(m, show_progress=False)
    assert model.fitted


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        encore.IALS().fit(sp.csr_matrix((3, 3), dtype=np.float32))


def test_huge_n_and_shape_mismatch(fitted, user_items):
    ids, scores = fitted.recommend([0, 1], user_items[[0, 1]], N=10**12)
    assert ids.shape == (2, user_items.shape[1])  # at most every item, no giant allocation
    with pytest.raises(ValueError, match="test_user_items has shape"):
        encore.precision_at_k(fitted, None, user_items[:10])
