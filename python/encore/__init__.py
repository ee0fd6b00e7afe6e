"""encore: a fast recommendation engine, from Python.

The models are encore's C++ models (the same code as the ``encore`` command),
with an interface that follows the ``implicit`` library, so that code written
for ``implicit`` ports by changing the import::

    import encore
    model = encore.IALS(factors=64, iterations=15, reg=0.05, alpha=2.0)
    model.fit(user_items)                      # scipy.sparse CSR, users x items
    ids, scores = model.recommend(0, user_items[0], N=10)

Parameter names are those of ``encore params`` (the one parameter table of
the CLI, pipelines and docs/PARAMETERS.md). Errors raise the exceptions
below with the CLI's messages. See docs/PYTHON.md for a walk-through.
"""

import numbers as _numbers
import os as _os

import numpy as _np

from . import _encore

__version__ = _encore.__version__

__all__ = [
    "ALS", "IALS", "Cooccurrence", "Popularity", "EASE", "BPR", "SVDpp", "Model", "Interactions",
    "load", "read_interactions", "params", "model_kinds", "input_options",
    "precision_at_k", "recall_at_k", "ndcg_at_k", "mean_average_precision_at_k",
    "ranking_metrics_at_k", "train_test_split", "cross_validate",
    "Error", "InvalidArgumentError", "NotFoundError", "EncoreIOError", "ParseError",
    "CorruptionError", "FailedPreconditionError", "InternalError",
]

# ---------------------------------------------------------------- errors


class Error(Exception):
    """Base of every error encore raises; ``str(e)`` is the CLI's message."""


class InvalidArgumentError(Error, ValueError):
    """A parameter, option or argument is unusable (a ValueError)."""


class NotFoundError(Error, LookupError):
    """A file, user id or item id does not exist (a LookupError)."""


class EncoreIOError(Error, OSError):
    """The operating system refused a read or write (an OSError)."""


class ParseError(Error, ValueError):
    """Input data is malformed (a ValueError)."""


class CorruptionError(Error, ValueError):
    """A file encore wrote (a model file) is damaged (a ValueError)."""


class FailedPreconditionError(Error, RuntimeError):
    """The call is not possible in this state, e.g. an unfitted model (a RuntimeError)."""


class InternalError(Error, RuntimeError):
    """A bug in encore; please report it."""


_encore.set_exception_types({
    "InvalidArgument": InvalidArgumentError,
    "NotFound": NotFoundError,
    "IOError": EncoreIOError,
    "ParseError": ParseError,
    "Corruption": CorruptionError,
    "FailedPrecondition": FailedPreconditionError,
    "Internal": InternalError,
})

_ERRORS = {
    "InvalidArgument": InvalidArgumentError, "NotFound": NotFoundError,
    "IOError": EncoreIOError, "ParseError": ParseError, "Corruption": CorruptionError,
    "FailedPrecondition": FailedPreconditionError, "Internal": InternalError,
}

# ------------------------------------------------------------ parameters


def params(kind=None):
    """The model parameter table as a list of dicts (name, type, models, help, default).

    The same table as ``encore params`` and docs/PARAMETERS.md. With ``kind``
    ("ials", ...), only the parameters that model reads (and the shared ones),
    with that model's default (``defaults="spark"`` gives the kind-less column).
    """
    rows = []
    for name, type_, models, help_, default in _encore.param_table(kind or ""):
        if kind is not None and models not in ("", "all") and kind not in models.split(","):
            continue
        rows.append({"name": name, "type": type_, "models": models, "help": help_,
                     "default": default})
    return rows


def model_kinds():
    """The names of the registered models ("als", "ials", ...), sorted."""
    return list(_encore.model_kinds())


def input_options():
    """The input option table of read_interactions (and the CLI's input flags).

    A list of dicts: name, type, default, values, help (``encore options``).
    """
    return [{"name": n, "type": t, "default": d, "values": v, "help": h}
            for n, t, d, v, h in _encore.input_option_table()]


_param_rows = params

# implicit's names for the same parameters.
_ALIASES = {"regularization": "reg", "num_threads": "threads", "random_state": "seed"}


def _param_text(name, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:
        raise InvalidArgumentError("parameter %s is NaN" % name)
    return str(value)


# -------------------------------------------------------------- matrices


def _csr(matrix, name):
    """A canonical float32 CSR copy-free where possible; clean errors otherwise."""
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover
        raise ImportError("encore needs scipy for sparse matrices (apt install python3-scipy)")
    if not sp.issparse(matrix):
        raise TypeError("%s must be a scipy.sparse matrix (users x items), got %s; "
                        "build one with scipy.sparse.csr_matrix" % (name, type(matrix).__name__))
    if matrix.ndim != 2:
        raise ValueError("%s must be two-dimensional" % name)
    if not sp.isspmatrix_csr(matrix) and type(matrix).__name__ != "csr_array":
        matrix = matrix.tocsr()
    if matrix.dtype.kind not in "biuf":
        raise TypeError("%s has dtype %s; use a numeric dtype (float32 is native)"
                        % (name, matrix.dtype))
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    return matrix


def _csr_arrays(matrix):
    return (_np.asarray(matrix.indptr, dtype=_np.int64),
            _np.asarray(matrix.indices, dtype=_np.int64),
            _np.asarray(matrix.data, dtype=_np.float32))


def _to_scipy(arrays):
    import scipy.sparse as sp
    indptr, indices, values, rows, cols = arrays
    return sp.csr_matrix((values, indices, indptr), shape=(rows, cols))


# ---------------------------------------------------------- interactions


class Interactions:
    """Interactions with their ids: a users x items matrix and the id dictionaries.

    Made by :func:`read_interactions`, :meth:`from_frame` or :meth:`from_csr`;
    every model's ``fit`` takes one. Row ``u`` of :attr:`user_items` is the
    user ``user_ids[u]``, column ``i`` the item ``item_ids[i]``; models keep
    these ids, so a saved model answers the CLI with the original ids.

    Attributes:
        report: for read_interactions, the read report (rows read, accepted,
            rejected, rejects by kind, the first rejected rows); else None.
    """

    def __init__(self, data, report=None):
        self._data = data
        self.report = report
        self._csr = None

    @classmethod
    def from_csr(cls, user_items, threads=0):
        """From a scipy.sparse matrix (users x items); ids are the row and column numbers."""
        m = _csr(user_items, "user_items")
        indptr, indices, values = _csr_arrays(m)
        return cls(_encore.Data.from_csr(indptr, indices, values, m.shape[0], m.shape[1],
                                         threads))

    @classmethod
    def from_frame(cls, frame, user_col="user", item_col="item", value_col=None,
                   event_col=None, time_col=None, weights=None, transform="none",
                   feedback="implicit", duplicates="latest", threads=0):
        """From a pandas DataFrame with one row per event.

        Args:
            frame: the DataFrame.
            user_col, item_col: columns of the user and item ids (any type;
                compared as text).
            value_col: per-row values (counts, ratings); None: each row weighs 1.
            event_col: event types, weighted by ``weights``
                ({"view": 1, "buy": 10} or "view=1,buy=10").
            time_col: unix seconds (numbers) or datetimes, kept for time splits.
            transform: "none", "log1p" or "binary" on the summed values.
            feedback: "implicit" (values summed) or "explicit" (ratings).
            duplicates: explicit only: "latest" or "mean".
        """
        for col in (user_col, item_col, value_col, event_col, time_col):
            if col is not None and col not in frame.columns:
                raise KeyError("column %r is not in the DataFrame (columns: %s)"
                               % (col, ", ".join(map(str, frame.columns))))
        users = frame[user_col].astype(str).tolist()
        items = frame[item_col].astype(str).tolist()
        values = None
        if value_col is not None:
            col = frame[value_col]
            if col.dtype.kind not in "biuf":
                raise TypeError("value column %r has dtype %s; it must be numeric"
                                % (value_col, col.dtype))
            values = col.to_numpy(dtype=_np.float32)
        events = frame[event_col].astype(str).tolist() if event_col is not None else None
        times = None
        if time_col is not None:
            col = frame[time_col]
            if col.dtype.kind == "M":
                times = (col.astype("int64") // 10**9).to_numpy(dtype=_np.int64)
            else:
                times = col.to_numpy(dtype=_np.int64)
        if isinstance(weights, dict):
            weights = ",".join("%s=%r" % (k, float(v)) for k, v in weights.items())
        return cls(_encore.Data.from_columns(users, items, values, events, times, feedback,
                                             weights or "", transform, duplicates, threads))

    @property
    def user_items(self):
        """The users x items scipy.sparse.csr_matrix (float32)."""
        if self._csr is None:
            self._csr = _to_scipy(self._data.csr())
        return self._csr

    @property
    def user_ids(self):
        """The user id of each row, as a numpy array of str."""
        return _np.array(self._data.user_ids, dtype=object)

    @property
    def item_ids(self):
        """The item id of each column, as a numpy array of str."""
        return _np.array(self._data.item_ids, dtype=object)

    @property
    def shape(self):
        """(users, items)."""
        return (self._data.num_users, self._data.num_items)

    @property
    def nnz(self):
        """The number of (user, item) pairs with a value."""
        return self._data.nnz

    def to_frame(self):
        """A pandas DataFrame with columns user, item, value (one row per pair)."""
        import pandas as pd
        m = self.user_items.tocoo()
        return pd.DataFrame({"user": self.user_ids[m.row], "item": self.item_ids[m.col],
                             "value": m.data})

    def __repr__(self):
        return "<encore.Interactions %d users x %d items, %d pairs>" % (
            self.shape[0], self.shape[1], self.nnz)


def _as_interactions(user_items, threads=0):
    if isinstance(user_items, Interactions):
        return user_items
    try:
        import pandas as pd
        if isinstance(user_items, pd.DataFrame):
            return Interactions.from_frame(user_items, threads=threads)
    except ImportError:  # pragma: no cover
        pass
    return Interactions.from_csr(user_items, threads=threads)


def read_interactions(path, format="csv", **options):
    """Reads interaction files with the CLI's readers and input options.

    Args:
        path: a file name or a list of them (read in order; .gz is decompressed).
        format: "csv", "tsv", "jsonl", "movielens", "ml-latest", "lastfm",
            "baskets" or "matrix" (the CLI's --format presets).
        **options: any input option of ``encore options`` / :func:`input_options`
            by its name, e.g. ``user_col="customer"``, ``weights={"view": 1,
            "buy": 5}``, ``max_bad_rows=100``, ``obfuscate=["email"]``,
            ``obfuscation_key_file="key"``, ``feedback="explicit"``. Lists may be
            Python lists, weights a dict, booleans True/False.

    Returns:
        An :class:`Interactions`; its ``report`` holds the bad-row report
        (rows read, accepted, rejected, rejects by kind, the first rejected
        rows as (file, line, reason)).

    Raises:
        ParseError (a ValueError) when a row is bad and max_bad_rows is
        exceeded; the exception's ``report`` attribute holds the report.
        NotFoundError / EncoreIOError when a file cannot be read.
    """
    files = [_os.fspath(p) for p in ([path] if isinstance(path, (str, _os.PathLike)) else path)]
    pairs = [("format", str(format))]
    for name, value in options.items():
        if isinstance(value, dict):
            value = ",".join("%s=%r" % (k, float(v)) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((name, str(value)))
    data, report, code, message = _encore.read_interactions(files, pairs)
    if data is None:
        err = _ERRORS.get(code, InternalError)(message)
        err.report = report
        raise err
    return Interactions(data, report)


# ----------------------------------------------------------------- models


def _progress(show_progress, callback, desc):
    """A fit callback: the user's and/or a tqdm bar (when installed and asked), or None.

    The bar is made at the first report, with the total the model reports.
    """
    tqdm = None
    if show_progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
    if tqdm is None and callback is None:
        return None, None
    state = {"bar": None}

    def report(done, total):
        if tqdm is not None:
            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=desc)
            state["bar"].update(done - state["bar"].n)
        if callback is not None:
            callback(done, total)
    return report, state


class Model:
    """Base of every encore model; a subclass only names its registry ``kind``.

    ``Model(kind, **params)`` makes any registered model (see
    :func:`model_kinds`); the named classes (:class:`IALS`, ...) are the same
    with the kind fixed. Parameters are those of ``encore params`` for the
    kind (:func:`params`); implicit's ``regularization``, ``num_threads`` and
    ``random_state`` are accepted as ``reg``, ``threads`` and ``seed``.

    A fitted model answers queries concurrently from several threads.
    """

    kind = None

    def __init__(self, kind=None, **params):
        if kind is not None and self.kind is not None and kind != self.kind:
            raise TypeError("%s is the %r model; use encore.Model(%r, ...)"
                            % (type(self).__name__, self.kind, kind))
        kind = kind or self.kind
        if kind is None:
            raise TypeError("Model needs a kind: one of %s" % ", ".join(model_kinds()))
        if kind not in model_kinds():
            _encore.Model(kind, [])  # raises the registry's message naming the known models
        known = {row["name"] for row in _param_rows(kind)}
        # defaults="spark" starts from Spark's values instead of the kind's
        # measured defaults (docs/PARAMETERS.md); given parameters always win.
        defaults = params.pop("defaults", "encore")
        pairs = [("defaults", str(defaults))]
        for name, value in params.items():
            name = _ALIASES.get(name, name)
            if name not in known:
                raise TypeError("%s got an unexpected parameter %r; the %s model reads: %s"
                                % (type(self).__name__, name, kind, ", ".join(sorted(known))))
            pairs.append((name, _param_text(name, value)))
        self._model = _encore.Model(kind, pairs)
        self.kind = kind
        self._user_norms = None

    @classmethod
    def _wrap(cls, native):
        obj = cls.__new__(_CLASSES.get(native.kind, Model))
        obj._model = native
        obj.kind = native.kind
        obj._user_norms = None
        return obj

    # -- parameters and state

    def get_params(self):
        """Every parameter of the model as {name: text value} (as saved in model files)."""
        return dict(self._model.params)

    def __getattr__(self, name):
        # Parameters read as attributes: model.factors, model.reg, ...
        if name.startswith("_"):
            raise AttributeError(name)
        name = _ALIASES.get(name, name)
        native = self.__dict__.get("_model")
        if native is None:
            raise AttributeError(name)
        for n, v in native.params:
            if n == name:
                return _parse_value(v)
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    @property
    def fitted(self):
        """True once fit or load has given the model its state."""
        return self._model.fitted

    @property
    def user_ids(self):
        """The user id of each row of the training data (numpy array of str)."""
        return _np.array(self._model.user_ids, dtype=object)

    @property
    def item_ids(self):
        """The item id of each column of the training data (numpy array of str)."""
        return _np.array(self._model.item_ids, dtype=object)

    def user_index(self, ids):
        """Row numbers of user ids (str or numbers); -1 for unknown ids."""
        scalar = _np.isscalar(ids)
        out = self._model.lookup([str(i) for i in ([ids] if scalar else ids)], True)
        return int(out[0]) if scalar else out

    def item_index(self, ids):
        """Column numbers of item ids (str or numbers); -1 for unknown ids."""
        scalar = _np.isscalar(ids)
        out = self._model.lookup([str(i) for i in ([ids] if scalar else ids)], False)
        return int(out[0]) if scalar else out

    @property
    def user_factors(self):
        """User factors (users x factors float32), a read-only view of the model's memory."""
        return self._model.factors()[0]

    @property
    def item_factors(self):
        """Item factors (items x factors float32), a read-only view of the model's memory."""
        return self._model.factors()[1]

    # -- training

    def fit(self, user_items, show_progress=True, callback=None):
        """Trains the model; the GIL is released while it runs.

        Args:
            user_items: a scipy.sparse matrix (users x items; CSR is used
                without conversion), a pandas DataFrame with columns
                user, item (and optional value: see Interactions.from_frame
                for other names), or an :class:`Interactions`.
            show_progress: a tqdm bar over the iterations when tqdm is installed.
            callback: called as callback(done, total) after each iteration
                (als, ials; models without iterations do not call it). An
                exception it raises (or Ctrl-C) is raised when fit returns;
                later reports are skipped.

        Returns:
            the model itself.
        """
        data = _as_interactions(user_items)
        report, state = _progress(show_progress, callback, self._model.kind)
        try:
            self._model.fit(data._data, report)
        finally:
            if state is not None and state["bar"] is not None:
                state["bar"].close()
        self._user_norms = None
        return self

    # -- queries

    def recommend(self, userid, user_items=None, N=10, filter_already_liked_items=True,
                  filter_items=None, recalculate_user=False, items=None):
        """Top-N items for one user or an array of users (implicit's signature).

        Args:
            userid: a user row number, or an array of them.
            user_items: a CSR matrix with one row per user in ``userid``
                (``user_items[userid]`` of the training matrix): the items
                excluded with filter_already_liked_items, and the items a
                new user is folded in from with recalculate_user. None: the
                model's training items are excluded.
            N: items per user.
            filter_already_liked_items: leave out the items of ``user_items``.
            filter_items: item numbers never recommended.
            recalculate_user: score from ``user_items`` (fold-in) rather than
                the trained user; userid may then be any number (a new user).
            items: when given, only these item numbers are ranked.

        Returns:
            (ids, scores): int32 and float32 numpy arrays, best first. For one
            user, 1-d arrays of at most N entries; for an array of users, 2-d
            arrays (len(userid), N) padded with id -1 and score -inf where
            fewer than N items qualify.
        """
        if items is not None and filter_items is not None and len(filter_items):
            raise ValueError("Can't set both items and filter_items in recommend call")
        scalar = _np.isscalar(userid) or (isinstance(userid, _np.ndarray) and userid.ndim == 0)
        users = _int_array([userid] if scalar else userid, "userid")
        liked = (None, None, None)
        if user_items is not None and (filter_already_liked_items or recalculate_user):
            m = _csr(user_items, "user_items")
            if m.shape[0] != len(users):
                raise ValueError("user_items must contain 1 row for every user in userid "
                                 "(got %d rows for %d users)" % (m.shape[0], len(users)))
            liked = _csr_arrays(m)
        elif recalculate_user:
            raise ValueError("recalculate_user=True needs user_items (the user's items)")
        n = _count(N, "N")
        ids, scores, counts = self._model.recommend(
            users, liked[0], liked[1], liked[2], n, bool(filter_already_liked_items),
            None if filter_items is None else _int_array(filter_items, "filter_items"),
            None if items is None else _int_array(items, "items"), bool(recalculate_user))
        if scalar:
            c = int(counts[0])
            return ids[0, :c], scores[0, :c]
        return ids, scores

    def recommend_frame(self, users=None, N=10, filter_already_liked_items=True):
        """Top-N lists as a pandas DataFrame with columns user, item, score, rank.

        The rows of ``encore recommend``'s CSV: ``users`` are user ids (as
        in :attr:`user_ids`; None = every user), items are item ids, rank
        starts at 1, and the training items are left out unless
        filter_already_liked_items is False. Unknown user ids raise
        NotFoundError.
        """
        import pandas as pd
        if users is None:
            index = _np.arange(self._model.num_users)
        else:
            names = [str(u) for u in ([users] if _np.isscalar(users) else users)]
            index = self._model.lookup(names, True)
            unknown = [n for n, i in zip(names, index) if i < 0]
            if unknown:
                raise NotFoundError("%d user id(s) not in the model, e.g. %r"
                                    % (len(unknown), unknown[0]))
        n = _count(N, "N")
        ids, scores, counts = self._model.recommend(
            _np.asarray(index, dtype=_np.int64), None, None, None, n,
            bool(filter_already_liked_items), None, None, False)
        rows = _np.repeat(_np.arange(len(index)), counts)
        cols = _np.concatenate([_np.arange(c) for c in counts]) if len(counts) else \
            _np.zeros(0, dtype=_np.int64)
        user_ids, item_ids = self.user_ids, self.item_ids
        return pd.DataFrame({"user": user_ids[_np.asarray(index)[rows]],
                             "item": item_ids[ids[rows, cols]],
                             "score": scores[rows, cols],
                             "rank": cols + 1})

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why was ``itemid`` recommended to ``userid``? (implicit's signature.)

        The score splits into the share of each of the user's items plus a
        base: score = base + sum of contributions (docs/MODELS.md,
        "Explanations"): for factor models through the user's weighted Gram
        matrix (the fold-in solve, as implicit explains iALS), for
        co-occurrence the similarities of the items that co-occurred (with
        ``together`` counts), for popularity the item's count (the base).

        Args:
            userid: a user row number (ignored when user_items is given and
                the user is new).
            user_items: the user's row (1 x items CSR): the history to
                explain from (fold-in); None: the user's training items.
            itemid: the item explained.
            user_weights: accepted for implicit compatibility, not used.
            N: how many of the largest contributions to return.

        Returns:
            (score, contributions, explanation): the explained score, a list
            of (itemid, contribution) largest |contribution| first (at most
            N), and a dict with everything (base, model_score, exact, method,
            items with weight, contribution, together, similarity).
        """
        if not hasattr(self._model, "explain"):
            raise FailedPreconditionError("this build of encore has no explanations "
                                          "(encore/explain.h)")
        hist_items = hist_weights = None
        if user_items is not None:
            m = _csr(user_items, "user_items")
            if m.shape[0] != 1:
                raise ValueError("user_items must be the user's one row (1 x items), got %d rows"
                                 % m.shape[0])
            hist_items = _np.asarray(m.indices, dtype=_np.int64)
            hist_weights = _np.asarray(m.data, dtype=_np.float32)
        user = int(_int_array([userid], "userid")[0])
        item = int(_int_array([itemid], "itemid")[0])
        e = self._model.explain(user, item, hist_items, hist_weights)
        top = [(c["item"], c["contribution"]) for c in e["items"][:_count(N, "N")]]
        return e["score"], top, e

    def similar_items(self, itemid, N=10):
        """The N items most similar to an item (or each of an array of items).

        Cosine of the item factors for als/ials, the co-occurrence score for
        cooccurrence; the item itself is not listed. Returns (ids, scores) as
        :meth:`recommend` does.
        """
        scalar = _np.isscalar(itemid)
        ids, scores, counts = self._model.similar_items(
            _int_array([itemid] if scalar else itemid, "itemid"), _count(N, "N"))
        if scalar:
            c = int(counts[0])
            return ids[0, :c], scores[0, :c]
        return ids, scores

    def similar_users(self, userid, N=10):
        """The N users most similar to a user (cosine of user factors; factor models).

        The user itself is listed first (as implicit does). Returns (ids,
        scores) as :meth:`recommend` does.
        """
        users, _ = self._model.factors()
        if self._user_norms is None:
            norms = _np.linalg.norm(users, axis=1)
            norms[norms == 0] = 1e-10
            self._user_norms = norms
        scalar = _np.isscalar(userid)
        q = _int_array([userid] if scalar else userid, "userid")
        if len(q) and (q.min() < 0 or q.max() >= users.shape[0]):
            raise NotFoundError("userid out of range 0..%d" % (users.shape[0] - 1))
        n = min(_count(N, "N"), users.shape[0])
        sims = (users[q] @ users.T) / self._user_norms[None, :] / self._user_norms[q][:, None]
        top = _np.argsort(-sims, axis=1, kind="stable")[:, :n]
        ids = top.astype(_np.int32)
        scores = _np.take_along_axis(sims, top, axis=1).astype(_np.float32)
        return (ids[0], scores[0]) if scalar else (ids, scores)

    # -- files

    def save(self, path):
        """Writes the model file (the CLI's format: encore recommend/publish/serve read it)."""
        self._model.save(_os.fspath(path))

    def __repr__(self):
        state = "fitted %d users x %d items" % (self._model.num_users, self._model.num_items) \
            if self._model.fitted else "not fitted"
        return "<encore.%s %s (%s)>" % (type(self).__name__, self._model.kind, state)


def _parse_value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    return text


def _count(n, name):
    if isinstance(n, bool) or not isinstance(n, (_numbers.Integral, _np.integer)):
        raise TypeError("%s must be an integer, got %r" % (name, n))
    if n < 0:
        raise ValueError("%s must be >= 0, got %d" % (name, n))
    return int(n)


def _int_array(values, name):
    a = _np.asarray(values)
    if a.dtype == object or a.dtype.kind not in "iub":
        if a.dtype.kind == "f" and a.size and _np.all(_np.isfinite(a)) and \
                _np.all(a == _np.floor(a)):
            a = a.astype(_np.int64)
        elif a.size == 0:
            a = a.astype(_np.int64)
        else:
            raise TypeError("%s must hold integer row/column numbers, got dtype %s"
                            % (name, a.dtype))
    return _np.ascontiguousarray(a.reshape(-1), dtype=_np.int64)


def _make_class(name, kind, doc):
    def __init__(self, **params):
        Model.__init__(self, **params)
    __init__.__doc__ = "Parameters (encore params --model %s):\n\n%s" % (kind, "\n".join(
        "    %s (%s, default %s): %s" % (r["name"], r["type"], r["default"], r["help"])
        for r in params(kind)))
    cls = type(name, (Model,), {"kind": kind, "__init__": __init__, "__doc__": doc,
                                "__module__": __name__})
    return cls


IALS = _make_class("IALS", "ials", """Implicit ALS (Hu, Koren & Volinsky 2008), implicit's AlternatingLeastSquares.

    encore.IALS(factors=64, iterations=15, reg=0.05, alpha=2.0, seed=42, threads=0)
    """)
ALS = _make_class("ALS", "als", """Explicit ALS for ratings (Spark's ALS, ALS-WR regularisation).""")
Cooccurrence = _make_class("Cooccurrence", "cooccurrence", """Item co-occurrence (item-kNN).

    similarity = conditional | jaccard | lift | cosine; aggregate = max | sum.
    """)
Popularity = _make_class("Popularity", "popularity", """Most popular items (a baseline).""")
EASE = _make_class("EASE", "ease", """EASE (Steck 2019): a closed-form item-item model.""")
BPR = _make_class("BPR", "bpr", """Bayesian Personalised Ranking (implicit's BayesianPersonalizedRanking).

    Available when the library registers the "bpr" model (encore.model_kinds()).
    """)

SVDpp = _make_class("SVDpp", "svdpp", """SVD++ for ratings (Koren 2008), trained by SGD (Surprise's SVDpp).

    encore.SVDpp(factors=64, iterations=30, learning_rate=0.007, reg=0.05, seed=42)
    """)

_CLASSES = {c.kind: c for c in (IALS, ALS, Cooccurrence, Popularity, EASE, BPR, SVDpp)}


def load(path):
    """Reads a model file written by :meth:`Model.save` or ``encore train``.

    Returns the model as its class (:class:`IALS`, ...), fitted, with the ids
    of its training data.
    """
    return Model._wrap(_encore.Model.load(_os.fspath(path)))


# ------------------------------------------------------------ evaluation


def _native(model):
    if not isinstance(model, Model):
        raise TypeError("model must be an encore model, got %s" % type(model).__name__)
    return model._model


def ranking_metrics_at_k(model, train_user_items, test_user_items, K=10, show_progress=True,
                         num_threads=0):
    """precision, recall, map, ndcg and hit at K, as defined in docs/METRICS.md.

    Every user with at least one item in ``test_user_items`` is ranked
    (top K, leaving out the items of ``train_user_items``; None leaves out
    the model's training items), and the per-user values are averaged.

    Note: precision@K divides by K and MAP@K by min(K, relevant) (METRICS.md);
    implicit's precision_at_k divides by min(K, relevant).

    Returns:
        {"precision": ..., "recall": ..., "map": ..., "ndcg": ..., "hit": ...,
         "users_evaluated": n}; NaN values when no user has a test item.
    """
    native = _native(model)
    shape = (native.num_users, native.num_items)
    test = _csr(test_user_items, "test_user_items")
    if test.shape != shape:
        raise ValueError("test_user_items has shape %s; the model has %d users x %d items"
                         % (test.shape, shape[0], shape[1]))
    t = _csr_arrays(test)
    tr = (None, None, None)
    if train_user_items is not None:
        train = _csr(train_user_items, "train_user_items")
        if train.shape != shape:
            raise ValueError("train_user_items has shape %s; the model has %d users x %d items"
                             % (train.shape, shape[0], shape[1]))
        tr = _csr_arrays(train)
    return dict(_encore.ranking_metrics(native, t[0], t[1], t[2], tr[0], tr[1], tr[2],
                                        _count(K, "K")))


def precision_at_k(model, train_user_items, test_user_items, K=10, show_progress=True,
                   num_threads=0):
    """precision@K: hits in the top K / K, averaged over users (docs/METRICS.md)."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K)["precision"]


def recall_at_k(model, train_user_items, test_user_items, K=10, show_progress=True,
                num_threads=0):
    """recall@K: hits in the top K / relevant items, averaged over users."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K)["recall"]


def mean_average_precision_at_k(model, train_user_items, test_user_items, K=10,
                                show_progress=True, num_threads=0):
    """MAP@K: average precision normalised by min(K, relevant), averaged over users."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K)["map"]


def ndcg_at_k(model, train_user_items, test_user_items, K=10, show_progress=True,
              num_threads=0):
    """NDCG@K: binary relevance, log2 discount, averaged over users."""
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K)["ndcg"]


def train_test_split(ratings, train_percentage=0.8, random_state=None, method="random",
                     leave_k=0, min_train=1, threads=0):
    """Splits interactions into train and test (encore's seeded HoldoutSplit).

    Args:
        ratings: a scipy.sparse matrix (users x items) or an Interactions.
        train_percentage: the share of nonzeros kept for training.
        random_state: the seed (an int; None = 42, encore's default seed).
        method: "random" (of all nonzeros), "user" (per user) or "time"
            (latest as test; needs times, i.e. an Interactions with times).
        leave_k: user/time: hold out exactly k per user instead of a share.
        min_train: user/time: users keeping fewer training items stay in train.

    Returns:
        (train, test) of the same type as ``ratings`` (scipy CSR, or
        Interactions), over the same users and items.
    """
    if not 0 < train_percentage < 1:
        raise ValueError("train_percentage must be in (0, 1), got %r" % (train_percentage,))
    seed = 42 if random_state is None else random_state
    if not isinstance(seed, (_numbers.Integral, _np.integer)) or seed < 0:
        raise TypeError("random_state must be a non-negative int (encore's splits are "
                        "seeded by an integer)")
    data = _as_interactions(ratings)
    train, test = _encore.train_test_split(data._data, method, 1.0 - train_percentage,
                                           leave_k, min_train, int(seed), threads)
    if isinstance(ratings, Interactions):
        return Interactions(train), Interactions(test)
    return Interactions(train).user_items, Interactions(test).user_items


def cross_validate(model, user_items, folds=5, metrics="precision,recall,map,ndcg",
                   K=10, per_user=False, min_train=1, seed=42, relevance_threshold=None,
                   threads=0):
    """k-fold cross-validation of a model's parameters (encore's CrossValidate).

    Args:
        model: an encore model (its kind and parameters are used; it is not fitted).
        user_items: a scipy.sparse matrix, DataFrame or Interactions.
        folds: 2..100.
        metrics: names as in ``encore evaluate --metrics`` ("rmse,mae,
            precision@10,ndcg@20"); a ranking metric without @k uses K.
        per_user: deal each user's items into the folds (every user tested).
        relevance_threshold: test items below it are not relevant (ratings).

    Returns:
        {metric name: {"mean": m, "std": s, "folds": [per-fold values]}}.
    """
    native = _native(model)
    data = _as_interactions(user_items)
    names = []
    for m in str(metrics).split(","):
        m = m.strip()
        if m and "@" not in m and m.lower() not in ("rmse", "mae"):
            m = "%s@%d" % (m, _count(K, "K"))
        if m:
            names.append(m)
    return _encore.cross_validate(native.kind, native.params, data._data, folds, per_user,
                                  min_train, ",".join(names), seed, relevance_threshold, threads)
