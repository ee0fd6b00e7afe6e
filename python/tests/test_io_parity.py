"""Readers, the bad-row report, and model files shared with the CLI (both ways)."""

import csv
import subprocess

import numpy as np
import pytest

import encore


def write_csv(path, user_items, bad_rows=()):
    m = user_items.tocoo()
    order = np.lexsort((m.col, m.row))
    with open(path, "w") as f:
        f.write("user,item,value\n")
        for j in order:
            f.write("u%d,i%d,%g\n" % (m.row[j], m.col[j], m.data[j]))
        for row in bad_rows:
            f.write(row + "\n")


def read_cli_lists(path):
    lists = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            lists.setdefault(row["user"], []).append((row["item"], float(row["score"])))
    return lists


def test_read_interactions_and_report(tmp_path, user_items):
    path = tmp_path / "events.csv"
    write_csv(path, user_items, bad_rows=["u1,i2,notanumber", "u3,i4,"])
    with pytest.raises(encore.ParseError) as e:
        encore.read_interactions(path)
    assert e.value.report["rows_rejected"] >= 1
    data = encore.read_interactions(path, max_bad_rows=5)
    assert data.report["rows_rejected"] == 2
    assert data.report["rows_accepted"] == user_items.nnz
    assert sum(data.report["rejects_by_kind"].values()) == 2
    file, line, reason = data.report["first_rejections"][0]
    assert file == str(path) and line == user_items.nnz + 2 and reason
    assert data.shape == user_items.shape and data.nnz == user_items.nnz
    assert data.user_ids[0] == "u0"
    frame = data.to_frame()
    assert len(frame) == user_items.nnz and list(frame.columns) == ["user", "item", "value"]


def test_read_interactions_options(tmp_path):
    path = tmp_path / "events.tsv"
    path.write_text("who\twhat\tkind\na\tx\tview\na\ty\tbuy\nb\tx\tbuy\nb\tz\tclick\n")
    data = encore.read_interactions(path, format="tsv", user_col="who", item_col="what",
                                    event_col="kind", weights={"view": 1, "buy": 4},
                                    max_bad_rows=10)
    # click has no weight: rejected as an unknown event type, as on the CLI.
    assert data.report["rows_rejected"] == 1
    assert data.user_items.toarray().tolist() == [[1.0, 4.0], [4.0, 0.0]]
    with pytest.raises(ValueError, match="unknown input option 'colour'"):
        encore.read_interactions(path, colour="red")
    with pytest.raises(encore.Error):
        encore.read_interactions(tmp_path / "nope.csv")
    names = {o["name"] for o in encore.input_options()}
    assert {"format", "user_col", "weights", "max_bad_rows", "obfuscate"} <= names


def test_obfuscation(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user,item\nalice@example.com,1\nbob@example.com,2\n")
    key = tmp_path / "key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    data = encore.read_interactions(path, obfuscate=["user"], obfuscation_key_file=str(key))
    assert not any("@" in u for u in data.user_ids)


def test_python_model_is_served_by_the_cli(tmp_path, encore_bin, user_items):
    model = encore.IALS(factors=8, iterations=4, seed=5, threads=2)
    model.fit(user_items, show_progress=False)
    path = tmp_path / "py.model"
    model.save(path)
    out = tmp_path / "recs.csv"
    subprocess.run([encore_bin, "recommend", "--model-file", str(path), "--n", "10",
                    "--out", str(out), "--quiet"], check=True)
    cli = read_cli_lists(out)
    users = np.arange(user_items.shape[0])
    ids, scores = model.recommend(users, user_items, N=10)
    assert len(cli) == len(users)
    for u in users:
        got = cli[str(u)]
        assert [int(i) for i, _ in got] == ids[u].tolist()
        np.testing.assert_allclose([s for _, s in got], scores[u], rtol=1e-5, atol=1e-6)
    # And loaded back in Python, it is the same model.
    again = encore.load(path)
    assert isinstance(again, encore.IALS) and again.get_params() == model.get_params()
    np.testing.assert_array_equal(again.user_factors, model.user_factors)
    ids2, scores2 = again.recommend(users, user_items, N=10)
    np.testing.assert_array_equal(ids2, ids)
    np.testing.assert_array_equal(scores2, scores)


def test_cli_model_is_used_in_python(tmp_path, encore_bin, user_items):
    data = tmp_path / "events.csv"
    write_csv(data, user_items)
    path = tmp_path / "cli.model"
    subprocess.run([encore_bin, "train", "--input", str(data), "--model", "ials",
                    "--factors", "8", "--iterations", "4", "--seed", "5", "--threads", "2",
                    "--out", str(path), "--quiet"], check=True)
    out = tmp_path / "recs.csv"
    subprocess.run([encore_bin, "recommend", "--model-file", str(path), "--n", "10",
                    "--out", str(out), "--quiet"], check=True)
    cli = read_cli_lists(out)
    model = encore.load(path)
    users = np.arange(len(model.user_ids))
    ids, scores = model.recommend(users, None, N=10)
    for u in users:
        got = cli[model.user_ids[u]]
        assert [i for i, _ in got] == list(model.item_ids[ids[u]])
        np.testing.assert_allclose([s for _, s in got], scores[u], rtol=1e-5, atol=1e-6)
    # Training the same data in Python gives the very same model.
    inter = encore.read_interactions(data)
    mine = encore.IALS(factors=8, iterations=4, seed=5, threads=2).fit(inter, show_progress=False)
    np.testing.assert_array_equal(mine.item_factors, model.item_factors)
    np.testing.assert_array_equal(mine.item_ids, model.item_ids)


def test_recommend_frame_is_the_cli_output(tmp_path, encore_bin, user_items):
    pd = pytest.importorskip("pandas")
    data = tmp_path / "events.csv"
    write_csv(data, user_items)
    model = encore.IALS(factors=8, iterations=3, seed=5, threads=2)
    model.fit(encore.read_interactions(data), show_progress=False)
    path = tmp_path / "m.model"
    model.save(path)
    out = tmp_path / "recs.csv"
    subprocess.run([encore_bin, "recommend", "--model-file", str(path), "--n", "7",
                    "--out", str(out), "--quiet"], check=True)
    cli = pd.read_csv(out, dtype={"user": str, "item": str})
    mine = model.recommend_frame(N=7)
    assert list(mine.columns) == ["user", "item", "score", "rank"]
    assert mine["user"].tolist() == cli["user"].tolist()
    assert mine["item"].tolist() == cli["item"].tolist()
    assert mine["rank"].tolist() == cli["rank"].tolist()
    np.testing.assert_allclose(mine["score"], cli["score"], rtol=1e-5, atol=1e-6)
    some = model.recommend_frame(["u3", "u1"], N=2)
    assert some["user"].tolist() == ["u3", "u3", "u1", "u1"]
    with pytest.raises(LookupError, match="not in the model"):
        model.recommend_frame(["nobody"])
