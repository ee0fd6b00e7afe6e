// _encore: the pybind11 module under the `encore` Python package.
//
// A front end like the CLI: it calls only the library facade
// (include/encore/*.h) and adds nothing a model computes. The Python layer
// (python/encore/__init__.py) turns scipy/pandas/numpy values into the flat
// arrays taken here, and these functions into implicit-style classes.
//
// Errors: every failed Status raises the Python exception registered for its
// code (set_exception_types, called by encore/__init__.py) with the
// Status's message, the CLI's text. Inputs are checked here before they
// reach a REQUIRES: of the library, so bad input never crashes the
// interpreter.
//
// The GIL is released around fitting, batch ranking, evaluation, reading and
// model files; fit callbacks take it back to call Python.

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/defaults.h"
#include "encore/evaluate.h"
#if __has_include("encore/explain.h")  // explanations (branch ann)
#include "encore/explain.h"
#define ENCORE_PY_EXPLAIN 1
#endif
#include "encore/input.h"
#include "encore/params.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "encore/status.h"
#include "encore/workflow.h"

namespace py = pybind11;

namespace encore::python {
namespace {

// ------------------------------------------------------------- errors

std::map<std::string, py::object>& ExceptionTypes() {
  static auto* types = new std::map<std::string, py::object>();
  return *types;
}

// The key of a code in set_exception_types.
const char* CodeKey(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kParseError:
      return "ParseError";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Internal";
}

[[noreturn]] void Throw(const Status& status) {
  auto& types = ExceptionTypes();
  auto it = types.find(CodeKey(status.code()));
  PyObject* type = it != types.end() ? it->second.ptr() : PyExc_RuntimeError;
  PyErr_SetString(type, status.message().c_str());
  throw py::error_already_set();
}

void Check(const Status& status) {
  if (!status.ok()) Throw(status);
}

template <typename T>
T Unwrap(Result<T> result) {
  if (!result.ok()) Throw(result.status());
  return std::move(result).value();
}

[[noreturn]] void ThrowInvalid(const std::string& message) {
  Throw(Status::InvalidArgument(message));
}

// ----------------------------------------------------------- datasets

using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A Dataset shared by Python objects (an Interactions, models' splits).
struct Data {
  std::shared_ptr<const Dataset> data;
  ReadReport report;  // filled by read_interactions
};

IdDictionary NumberedIds(uint32_t n) {
  IdDictionary d;
  for (uint32_t i = 0; i < n; ++i) d.Intern(std::to_string(i));
  return d;
}

// Checks a CSR given as numpy arrays and copies it into a CsrMatrix.
// `what` names the argument in messages.
CsrMatrix CsrFromArrays(const IndexArray& indptr, const IndexArray& indices,
                        const FloatArray& values, int64_t rows, int64_t cols, const char* what) {
  const std::string w = what;
  if (rows < 0 || cols < 0 || rows > IdDictionary::kMaxSize || cols > IdDictionary::kMaxSize) {
    ThrowInvalid(w + ": shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
                 ") is out of range (at most 4294967294 users and items)");
  }
  if (indptr.ndim() != 1 || indices.ndim() != 1 || values.ndim() != 1) {
    ThrowInvalid(w + ": indptr, indices and data must be one-dimensional");
  }
  if (indptr.shape(0) != rows + 1) {
    ThrowInvalid(w + ": indptr has " + std::to_string(indptr.shape(0)) + " entries, expected " +
                 std::to_string(rows + 1) + " (rows + 1); pass a scipy.sparse.csr_matrix");
  }
  if (indices.shape(0) != values.shape(0)) {
    ThrowInvalid(w + ": indices and data differ in length");
  }
  CsrMatrix m;
  m.rows = static_cast<uint32_t>(rows);
  m.cols = static_cast<uint32_t>(cols);
  const int64_t* p = indptr.data();
  const int64_t* ix = indices.data();
  const float* v = values.data();
  const int64_t nnz = indices.shape(0);
  if (p[0] != 0 || p[rows] != nnz) {
    ThrowInvalid(w + ": indptr must start at 0 and end at the number of nonzeros (" +
                 std::to_string(nnz) + ")");
  }
  m.indptr.resize(rows + 1);
  m.indices.resize(nnz);
  m.values.resize(nnz);
  for (int64_t r = 0; r < rows; ++r) {
    if (p[r + 1] < p[r]) ThrowInvalid(w + ": indptr decreases at row " + std::to_string(r));
    int64_t prev = -1;
    for (int64_t j = p[r]; j < p[r + 1]; ++j) {
      if (ix[j] < 0 || ix[j] >= cols) {
        ThrowInvalid(w + ": row " + std::to_string(r) + " has column index " +
                     std::to_string(ix[j]) + ", outside 0.." + std::to_string(cols - 1));
      }
      if (ix[j] <= prev) {
        ThrowInvalid(w + ": column indices of row " + std::to_string(r) +
                     " are not sorted and unique; call sum_duplicates() first");
      }
      if (!std::isfinite(v[j])) {
        ThrowInvalid(w + ": value at row " + std::to_string(r) + ", column " +
                     std::to_string(ix[j]) + " is not a finite number (NaN or infinity)");
      }
      prev = ix[j];
      m.indices[j] = static_cast<uint32_t>(ix[j]);
      m.values[j] = v[j];
    }
  }
  for (int64_t r = 0; r <= rows; ++r) m.indptr[r] = static_cast<uint64_t>(p[r]);
  return m;
}

// A Dataset over users 0..rows-1 and items 0..cols-1 (ids are the decimal
// indices, so a saved model answers the CLI for the same numbers).
Data DataFromCsr(IndexArray indptr, IndexArray indices, FloatArray values, int64_t rows,
                 int64_t cols, int threads) {
  CsrMatrix m = CsrFromArrays(indptr, indices, values, rows, cols, "user_items");
  auto d = std::make_shared<Dataset>();
  {
    py::gil_scoped_release release;
    d->users = NumberedIds(m.rows);
    d->items = NumberedIds(m.cols);
    d->summary.rows = m.nnz();
    d->by_item = m.Transpose(threads);
    d->by_user = std::move(m);
  }
  return Data{std::move(d), {}};
}

// From columns (a DataFrame): ids as text, per-row values, optional events
// and times, then BuildDataset with the weighting options.
Data DataFromColumns(const std::vector<std::string>& users, const std::vector<std::string>& items,
                     std::optional<FloatArray> values,
                     std::optional<std::vector<std::string>> events,
                     std::optional<IndexArray> times, const std::string& feedback,
                     const std::string& weights, const std::string& transform,
                     const std::string& duplicates, int threads) {
  const size_t n = users.size();
  if (items.size() != n) ThrowInvalid("the user and item columns differ in length");
  if (values && static_cast<size_t>(values->size()) != n) {
    ThrowInvalid("the value column differs in length from the user column");
  }
  if (events && events->size() != n) ThrowInvalid("the event column differs in length");
  if (times && static_cast<size_t>(times->size()) != n) {
    ThrowInvalid("the time column differs in length");
  }
  if (n == 0) ThrowInvalid("the DataFrame has no rows; there is nothing to train on");
  DatasetOptions options;
  options.feedback = Unwrap(ParseFeedback(feedback));
  options.weights = Unwrap(ParseWeights(weights));
  options.transform = Unwrap(ParseValueTransform(transform));
  options.duplicates = Unwrap(ParseExplicitDuplicates(duplicates));
  options.threads = threads;
  if (options.feedback == Feedback::kExplicit &&
      (!options.weights.empty() || options.transform != ValueTransform::kNone)) {
    ThrowInvalid("weights and transform apply to implicit feedback only");
  }
  auto d = std::make_shared<Dataset>();
  {
    py::gil_scoped_release release;
    InteractionLog log;
    const float* v = values ? values->data() : nullptr;
    const int64_t* t = times ? times->data() : nullptr;
    log.has_events = events.has_value();
    log.has_times = times.has_value();
    for (size_t i = 0; i < n; ++i) {
      log.user.push_back(log.users.Intern(users[i]));
      log.item.push_back(log.items.Intern(items[i]));
      log.value.push_back(v != nullptr ? v[i] : 1.0f);
      if (events) log.event.push_back(log.events.Intern((*events)[i]));
      if (t != nullptr) log.time.push_back(t[i]);
    }
    Result<Dataset> built = BuildDataset(std::move(log), options);
    if (!built.ok()) {
      py::gil_scoped_acquire acquire;
      Throw(built.status());
    }
    *d = std::move(built).value();
  }
  return Data{std::move(d), {}};
}

py::dict ReportDict(const ReadReport& r) {
  py::dict d;
  d["files"] = r.files;
  d["bytes_read"] = r.bytes_read;
  d["rows_read"] = r.rows_read;
  d["blank_lines"] = r.blank_lines;
  d["rows_accepted"] = r.rows_accepted;
  d["rows_rejected"] = r.rows_rejected;
  py::dict kinds;
  for (const auto& [kind, count] : r.rejects_by_kind) kinds[py::str(kind)] = count;
  d["rejects_by_kind"] = kinds;
  py::list first;
  for (const Rejection& x : r.first_rejections) {
    first.append(py::make_tuple(x.file, x.line, x.reason));
  }
  d["first_rejections"] = first;
  return d;
}

// Reads files with the CLI's input options (name -> text, the names of
// `encore options`). Returns (Data or None, report, error code, message).
py::tuple ReadInteractionFiles(const std::vector<std::string>& files,
                               const std::vector<std::pair<std::string, std::string>>& options) {
  InputOptions o;
  o.files = files;
  for (const auto& [name, text] : options) {
    if (FindInputOption(name) == nullptr) {
      std::string known;
      for (const auto& info : InputOptionTable()) {
        if (!known.empty()) known += ", ";
        known += info.name;
      }
      ThrowInvalid("unknown input option '" + name + "'; known options: " + known);
    }
    Check(SetInputOption(&o, name, text));
  }
  ReadReport report;
  auto d = std::make_shared<Dataset>();
  Status status;
  {
    py::gil_scoped_release release;
    Result<Dataset> loaded = LoadInput(o, &report);
    if (loaded.ok()) {
      *d = std::move(loaded).value();
    } else {
      status = loaded.status();
    }
  }
  py::object data = py::none();
  if (status.ok()) data = py::cast(Data{std::move(d), report});
  return py::make_tuple(data, ReportDict(report), std::string(CodeKey(status.code())),
                        status.message());
}

py::tuple CsrArrays(const CsrMatrix& m) {
  py::array_t<int64_t> indptr(m.indptr.size());
  py::array_t<int32_t> indices(m.indices.size());
  py::array_t<float> values(m.values.size());
  std::copy(m.indptr.begin(), m.indptr.end(), indptr.mutable_data());
  std::copy(m.indices.begin(), m.indices.end(), indices.mutable_data());
  std::copy(m.values.begin(), m.values.end(), values.mutable_data());
  return py::make_tuple(indptr, indices, values, m.rows, m.cols);
}

std::vector<std::string> Names(const IdDictionary& d) {
  std::vector<std::string> out(d.size());
  for (uint32_t i = 0; i < d.size(); ++i) out[i] = std::string(d.Name(i));
  return out;
}

// ------------------------------------------------------------- params

// The kind's starting parameters (DefaultParams; a ("defaults", "spark")
// entry picks Spark's), then the list's values on top.
ModelParams ParamsFromList(const std::string& kind,
                           const std::vector<std::pair<std::string, std::string>>& list) {
  DefaultsPreset preset = DefaultsPreset::kEncore;
  for (const auto& [name, value] : list) {
    if (name == "defaults") preset = Unwrap(ParseDefaultsPreset(value));
  }
  ModelParams p = DefaultParams(kind, preset);
  for (const auto& [name, value] : list) {
    if (name != "defaults") Check(SetModelParam(&p, name, value));
  }
  Check(p.Validate());
  return p;
}

// With a kind, "default" is that kind's starting value (DefaultParams).
py::list ParamTable(const std::string& kind) {
  py::list out;
  const ModelParams defaults = DefaultParams(kind);
  for (const ParamInfo& info : ModelParamTable()) {
    out.append(py::make_tuple(info.name, info.type, info.models, info.help, info.get(defaults)));
  }
  return out;
}

// ------------------------------------------------------------- models

// A query-time exclusion: the items of a caller-given row per user (implicit's
// filter_already_liked_items uses the user_items passed to recommend).
class RowExclude final : public ExcludeStep {
 public:
  // rows[u] = sorted items to exclude for user u.
  explicit RowExclude(std::map<uint32_t, std::vector<uint32_t>> rows) : rows_(std::move(rows)) {}
  bool Excludes(const RankContext& ctx, uint32_t item) const override {
    auto it = rows_.find(ctx.user);
    if (it == rows_.end()) return false;
    return std::binary_search(it->second.begin(), it->second.end(), item);
  }

 private:
  std::map<uint32_t, std::vector<uint32_t>> rows_;
};

class Model {
 public:
  Model(std::string kind, const std::vector<std::pair<std::string, std::string>>& params)
      : kind_(std::move(kind)), params_(ParamsFromList(kind_, params)) {
    Unwrap(CreateRecommender(kind_, params_));  // unknown kind: the registry's message
  }
  explicit Model(std::shared_ptr<TrainedModel> trained)
      : kind_(trained->model->kind()),
        params_(trained->model->params()),
        trained_(std::move(trained)) {}

  const std::string& kind() const { return kind_; }
  py::list params() const {
    py::list out;
    for (const auto& [name, value] : ModelParamsToList(params_)) {
      out.append(py::make_tuple(name, value));
    }
    return out;
  }
  bool fitted() const { return trained_ != nullptr; }

  void Fit(const Data& data, std::optional<py::function> callback) {
    std::unique_ptr<Recommender> model = Unwrap(CreateRecommender(kind_, params_));
    // The callback runs on this thread with the GIL released around it; a
    // Python error in it (or Ctrl-C) is raised once Fit returns.
    py::object error;
    bool failed = false;
    if (callback) {
      model->set_fit_callback([&](uint32_t done, uint32_t total) {
        py::gil_scoped_acquire acquire;
        if (failed) return;
        try {
          (*callback)(done, total);
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        } catch (py::error_already_set& e) {
          failed = true;
          e.restore();
        }
      });
    }
    auto trained = std::make_shared<TrainedModel>();
    Status status;
    {
      py::gil_scoped_release release;
      status = model->Fit(*data.data);
      if (status.ok()) {
        trained->users = data.data->users.Clone();
        trained->items = data.data->items.Clone();
      }
    }
    model->set_fit_callback(nullptr);
    if (failed) throw py::error_already_set();
    Check(status);
    trained->model = std::move(model);
    trained_ = std::move(trained);
  }

  const TrainedModel& trained() const {
    if (!trained_) {
      Throw(Status::FailedPrecondition("the " + kind_ +
                                       " model is not fitted; call fit(user_items) first"));
    }
    return *trained_;
  }
  std::shared_ptr<TrainedModel> shared() const {
    trained();
    return trained_;
  }

  uint32_t num_users() const { return trained().model->num_users(); }
  uint32_t num_items() const { return trained().model->num_items(); }
  std::vector<std::string> user_ids() const { return Names(trained().users); }
  std::vector<std::string> item_ids() const { return Names(trained().items); }

  // Index of each id, -1 when unknown.
  py::array_t<int64_t> Lookup(const std::vector<std::string>& ids, bool users) const {
    const IdDictionary& d = users ? trained().users : trained().items;
    py::array_t<int64_t> out(ids.size());
    int64_t* o = out.mutable_data();
    for (size_t i = 0; i < ids.size(); ++i) {
      auto f = d.Find(ids[i]);
      o[i] = f ? static_cast<int64_t>(*f) : -1;
    }
    return out;
  }

  py::tuple Factors(py::object self) const {
    const TrainedModel& t = trained();
    std::optional<FactorView> f = t.model->Factors();
    if (!f) {
      Throw(Status::FailedPrecondition("model '" + kind_ +
                                       "' has no factors (only matrix-factorisation models do)"));
    }
    // The arrays view the model's memory; the capsule keeps this model alive
    // even when the Python model is refitted or deleted.
    auto* keep = new std::shared_ptr<TrainedModel>(trained_);
    py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<TrainedModel>*>(p); });
    const ssize_t k = f->factors;
    py::array_t<float> users({static_cast<ssize_t>(t.model->num_users()), k},
                             {k * static_cast<ssize_t>(sizeof(float)), ssize_t{sizeof(float)}},
                             f->users, base);
    py::array_t<float> items({static_cast<ssize_t>(t.model->num_items()), k},
                             {k * static_cast<ssize_t>(sizeof(float)), ssize_t{sizeof(float)}},
                             f->items, base);
    // Read-only: scoring uses packed copies built at fit time, so a write
    // would silently not change the scores.
    py::detail::array_proxy(users.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    py::detail::array_proxy(items.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return py::make_tuple(users, items);
  }

  // Top-N for each user. `liked` (indptr, indices over rows matching
  // `users`) holds the rows to exclude (filter_liked) or to fold in
  // (recalculate). Returns (ids, scores, counts): N columns per user,
  // padded with -1 and -inf past counts[r].
  py::tuple Recommend(IndexArray users, std::optional<IndexArray> liked_indptr,
                      std::optional<IndexArray> liked_indices,
                      std::optional<FloatArray> liked_values, int64_t n, bool filter_liked,
                      std::optional<IndexArray> filter_items, std::optional<IndexArray> items,
                      bool recalculate) const {
    const TrainedModel& t = trained();
    const Recommender& m = *t.model;
    if (n < 0) ThrowInvalid("N must be >= 0, got " + std::to_string(n));
    const int64_t rows = users.size();
    const int64_t* u = users.data();
    QueryOptions q;
    q.n = static_cast<uint32_t>(std::min<int64_t>(n, m.num_items()));
    q.exclude_seen = false;
    auto item_list = [&](const IndexArray& a, const char* what) {
      std::vector<uint32_t> out;
      for (int64_t i = 0; i < a.size(); ++i) {
        int64_t x = a.data()[i];
        if (x < 0 || x >= m.num_items()) {
          Throw(Status(StatusCode::kNotFound, std::string(what) + " holds item " +
                                                  std::to_string(x) + ", outside 0.." +
                                                  std::to_string(int64_t{m.num_items()} - 1)));
        }
        out.push_back(static_cast<uint32_t>(x));
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    };
    if (filter_items) q.deny = item_list(*filter_items, "filter_items");
    if (items) {
      q.allow = item_list(*items, "items");
      if (q.allow.empty()) q.n = 0;
    }
    const bool have_liked = liked_indptr.has_value();
    if (have_liked && (liked_indptr->size() != rows + 1)) {
      ThrowInvalid("user_items must contain 1 row for every user in userid (got " +
                   std::to_string(liked_indptr->size() - 1) + " rows for " + std::to_string(rows) +
                   " users)");
    }
    std::vector<std::vector<ItemWeight>> rows_items(have_liked ? rows : 0);
    if (have_liked) {
      const int64_t* p = liked_indptr->data();
      const int64_t* ix = liked_indices->data();
      const float* v = liked_values->data();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = p[r]; j < p[r + 1]; ++j) {
          if (ix[j] < 0 || ix[j] >= m.num_items()) {
            Throw(Status(StatusCode::kNotFound, "user_items row " + std::to_string(r) +
                                                    " holds item " + std::to_string(ix[j]) +
                                                    ", outside 0.." +
                                                    std::to_string(int64_t{m.num_items()} - 1) +
                                                    "; its columns must be the model's items"));
          }
          if (!std::isfinite(v[j])) {
            ThrowInvalid("user_items row " + std::to_string(r) +
                         " holds a value that is not a finite number");
          }
          rows_items[r].push_back({static_cast<uint32_t>(ix[j]), v[j]});
        }
      }
    }
    if (!recalculate) {
      for (int64_t r = 0; r < rows; ++r) {
        if (u[r] < 0 || u[r] >= m.num_users()) {
          Throw(Status(StatusCode::kNotFound,
                       "userid " + std::to_string(u[r]) + " is not in the model (0.." +
                           std::to_string(int64_t{m.num_users()} - 1) +
                           "); for a new user pass recalculate_user=True with their items"));
        }
      }
    }
    std::vector<std::vector<ScoredItem>> lists(rows);
    Status status;
    {
      py::gil_scoped_release release;
      if (recalculate) {
        q.exclude_seen = filter_liked;
        Ranker ranker(m);
        for (int64_t r = 0; r < rows && status.ok(); ++r) {
          if (rows_items[r].empty()) continue;  // nothing known: no list
          Result<std::vector<ScoredItem>> l = ranker.RankFoldIn(rows_items[r], q);
          if (l.ok()) {
            lists[r] = std::move(l).value();
          } else {
            status = l.status();
          }
        }
      } else {
        Ranker ranker(m);
        if (filter_liked && have_liked) {
          std::map<uint32_t, std::vector<uint32_t>> ex;
          for (int64_t r = 0; r < rows; ++r) {
            auto& e = ex[static_cast<uint32_t>(u[r])];
            for (const ItemWeight& w : rows_items[r]) e.push_back(w.item);
          }
          for (auto& [user, e] : ex) {
            std::sort(e.begin(), e.end());
            e.erase(std::unique(e.begin(), e.end()), e.end());
          }
          ranker.Add(std::make_shared<RowExclude>(std::move(ex)));
        } else if (filter_liked) {
          q.exclude_seen = true;  // no rows given: the training items
        }
        std::vector<uint32_t> idx(rows);
        for (int64_t r = 0; r < rows; ++r) idx[r] = static_cast<uint32_t>(u[r]);
        ranker.RankUsers(idx, q, &lists);
      }
    }
    Check(status);
    // At most every item: a larger N only adds padding.
    const ssize_t cols = static_cast<ssize_t>(std::min<int64_t>(n, m.num_items()));
    py::array_t<int32_t> ids({static_cast<ssize_t>(rows), cols});
    py::array_t<float> scores({static_cast<ssize_t>(rows), cols});
    py::array_t<int64_t> counts(rows);
    int32_t* io = ids.mutable_data();
    float* so = scores.mutable_data();
    for (int64_t r = 0; r < rows; ++r) {
      counts.mutable_data()[r] = static_cast<int64_t>(lists[r].size());
      for (ssize_t c = 0; c < cols; ++c) {
        const bool has = c < static_cast<ssize_t>(lists[r].size());
        io[r * cols + c] = has ? static_cast<int32_t>(lists[r][c].item) : -1;
        so[r * cols + c] = has ? lists[r][c].score : -std::numeric_limits<float>::infinity();
      }
    }
    return py::make_tuple(ids, scores, counts);
  }

  py::tuple SimilarItems(IndexArray items, int64_t n) const {
    const TrainedModel& t = trained();
    const Recommender& m = *t.model;
    if (n < 0) ThrowInvalid("N must be >= 0, got " + std::to_string(n));
    std::vector<uint32_t> idx(items.size());
    for (int64_t r = 0; r < items.size(); ++r) {
      int64_t x = items.data()[r];
      if (x < 0 || x >= m.num_items()) {
        Throw(Status(StatusCode::kNotFound, "itemid " + std::to_string(x) +
                                                " is not in the model (0.." +
                                                std::to_string(int64_t{m.num_items()} - 1) + ")"));
      }
      idx[r] = static_cast<uint32_t>(x);
    }
    std::vector<std::vector<ScoredItem>> lists;
    Status status;
    {
      py::gil_scoped_release release;
      status = Ranker(m).RankSimilarItems(idx, static_cast<uint32_t>(n), &lists);
    }
    Check(status);
    const ssize_t rows = static_cast<ssize_t>(idx.size());
    const ssize_t cols = static_cast<ssize_t>(std::min<int64_t>(n, m.num_items()));
    py::array_t<int32_t> ids({rows, cols});
    py::array_t<float> scores({rows, cols});
    py::array_t<int64_t> counts(rows);
    for (ssize_t r = 0; r < rows; ++r) {
      counts.mutable_data()[r] = static_cast<int64_t>(lists[r].size());
      for (ssize_t c = 0; c < cols; ++c) {
        const bool has = c < static_cast<ssize_t>(lists[r].size());
        ids.mutable_data()[r * cols + c] = has ? static_cast<int32_t>(lists[r][c].item) : -1;
        scores.mutable_data()[r * cols + c] =
            has ? lists[r][c].score : -std::numeric_limits<float>::infinity();
      }
    }
    return py::make_tuple(ids, scores, counts);
  }

#ifdef ENCORE_PY_EXPLAIN
  // ExplainUser (history = the user's training items) or, with `history`
  // given, ExplainItems (fold-in). Returns a dict of the Explanation.
  py::dict Explain(int64_t user, int64_t item, std::optional<IndexArray> h_items,
                   std::optional<FloatArray> h_weights) const {
    const TrainedModel& t = trained();
    const Recommender& m = *t.model;
    if (item < 0 || item >= m.num_items()) {
      Throw(Status(StatusCode::kNotFound, "itemid " + std::to_string(item) +
                                              " is not in the model (0.." +
                                              std::to_string(int64_t{m.num_items()} - 1) + ")"));
    }
    std::vector<ItemWeight> history;
    if (h_items) {
      for (int64_t j = 0; j < h_items->size(); ++j) {
        const int64_t x = h_items->data()[j];
        if (x < 0 || x >= m.num_items()) {
          Throw(Status(StatusCode::kNotFound, "user_items holds item " + std::to_string(x) +
                                                  ", outside 0.." +
                                                  std::to_string(int64_t{m.num_items()} - 1)));
        }
        const float w = h_weights->data()[j];
        if (!std::isfinite(w)) ThrowInvalid("user_items holds a value that is not a finite number");
        history.push_back({static_cast<uint32_t>(x), w});
      }
    } else if (user < 0 || user >= m.num_users()) {
      Throw(Status(StatusCode::kNotFound, "userid " + std::to_string(user) +
                                              " is not in the model (0.." +
                                              std::to_string(int64_t{m.num_users()} - 1) + ")"));
    }
    Result<Explanation> e = Status::Internal("not explained");
    {
      py::gil_scoped_release release;
      e = h_items ? ExplainItems(m, history, static_cast<uint32_t>(item))
                  : ExplainUser(m, static_cast<uint32_t>(user), static_cast<uint32_t>(item));
    }
    Explanation x = Unwrap(std::move(e));
    py::dict out;
    out["item"] = x.item;
    out["score"] = x.score;
    out["base"] = x.base;
    out["model_score"] = x.model_score;
    out["exact"] = x.exact;
    out["method"] = x.method;
    py::list items;
    for (const ItemContribution& c : x.items) {
      py::dict d;
      d["item"] = c.item;
      d["weight"] = c.weight;
      d["contribution"] = c.contribution;
      d["together"] = c.together;
      d["similarity"] = c.similarity;
      items.append(d);
    }
    out["items"] = items;
    return out;
  }
#endif

  void Save(const std::string& path) const {
    const TrainedModel& t = trained();
    Status status;
    {
      py::gil_scoped_release release;
      status = SaveModel(t, path);
    }
    Check(status);
  }

  void set_threads(int threads) {
    params_.threads = threads;
    if (trained_) trained_->model->set_threads(threads);
  }

 private:
  std::string kind_;
  ModelParams params_;
  std::shared_ptr<TrainedModel> trained_;
};

Model LoadModelFile(const std::string& path) {
  Result<TrainedModel> loaded = Status::Internal("not loaded");
  {
    py::gil_scoped_release release;
    loaded = LoadModel(path);
  }
  return Model(std::make_shared<TrainedModel>(Unwrap(std::move(loaded))));
}

// --------------------------------------------------------- evaluation

// Ranking metrics over `test` (users x items of the model) with the
// definitions of docs/METRICS.md (the C++ per-user functions): every user
// with a test item is ranked (top-K, excluding the items of `train` when
// given, else the model's training items) and the per-user values averaged.
py::dict RankingMetrics(const Model& model, IndexArray t_indptr, IndexArray t_indices,
                        FloatArray t_values, std::optional<IndexArray> tr_indptr,
                        std::optional<IndexArray> tr_indices, std::optional<FloatArray> tr_values,
                        int64_t k) {
  const TrainedModel& t = model.trained();
  const Recommender& m = *t.model;
  if (k <= 0) ThrowInvalid("K must be > 0, got " + std::to_string(k));
  CsrMatrix test =
      CsrFromArrays(t_indptr, t_indices, t_values, m.num_users(), m.num_items(), "test_user_items");
  std::optional<CsrMatrix> train;
  if (tr_indptr) {
    train = CsrFromArrays(*tr_indptr, *tr_indices, *tr_values, m.num_users(), m.num_items(),
                          "train_user_items");
  }
  double sums[5] = {0, 0, 0, 0, 0};
  uint64_t evaluated = 0;
  {
    py::gil_scoped_release release;
    std::vector<uint32_t> users;
    for (uint32_t u = 0; u < test.rows; ++u) {
      if (test.RowLength(u) > 0) users.push_back(u);
    }
    Ranker ranker(m);
    QueryOptions q;
    q.n = static_cast<uint32_t>(std::min<int64_t>(k, m.num_items()));
    q.exclude_seen = !train.has_value();
    if (train) {
      std::map<uint32_t, std::vector<uint32_t>> ex;
      for (uint32_t u : users) {
        ex[u].assign(train->indices.begin() + train->indptr[u],
                     train->indices.begin() + train->indptr[u + 1]);
      }
      ranker.Add(std::make_shared<RowExclude>(std::move(ex)));
    }
    std::vector<std::vector<ScoredItem>> lists;
    ranker.RankUsers(users, q, &lists);
    const uint32_t kk = static_cast<uint32_t>(k);
    for (size_t r = 0; r < users.size(); ++r) {
      const uint32_t u = users[r];
      std::span<const uint32_t> relevant(test.indices.data() + test.indptr[u], test.RowLength(u));
      std::vector<uint32_t> rec;
      for (const ScoredItem& s : lists[r]) rec.push_back(s.item);
      sums[0] += PrecisionAtK(rec, relevant, kk);
      sums[1] += RecallAtK(rec, relevant, kk);
      sums[2] += AveragePrecisionAtK(rec, relevant, kk);
      sums[3] += NdcgAtK(rec, relevant, kk);
      sums[4] += HitAtK(rec, relevant, kk);
      ++evaluated;
    }
  }
  py::dict out;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const char* names[5] = {"precision", "recall", "map", "ndcg", "hit"};
  for (int i = 0; i < 5; ++i) out[names[i]] = evaluated ? sums[i] / evaluated : nan;
  out["users_evaluated"] = evaluated;
  return out;
}

// A seeded holdout split (HoldoutSplit + MakeTrainTest): (train, test),
// both over the same users and items as `data`.
py::tuple TrainTestSplit(const Data& data, const std::string& method, double test_fraction,
                         uint32_t leave_k, uint32_t min_train, uint64_t seed, int threads) {
  SplitOptions o;
  o.method = Unwrap(ParseSplitMethod(method));
  o.test_fraction = test_fraction;
  o.leave_k = leave_k;
  o.min_train = min_train;
  o.seed = seed;
  o.threads = threads;
  Result<FoldAssignment> folds = Status::Internal("not split");
  auto train = std::make_shared<Dataset>();
  auto test = std::make_shared<Dataset>();
  {
    py::gil_scoped_release release;
    folds = HoldoutSplit(*data.data, o);
    if (folds.ok()) {
      TrainTest tt = MakeTrainTest(*data.data, folds.value(), 0, threads);
      *train = std::move(tt.train);
      *test = DatasetFromMatrix(*data.data, std::move(tt.test), threads);
    }
  }
  Check(folds.status());
  return py::make_tuple(Data{train, {}}, Data{test, {}});
}

py::dict ReportToDict(const CvReport& r) {
  py::dict out;
  for (size_t j = 0; j < r.metrics.size(); ++j) {
    py::dict m;
    m["mean"] = r.mean[j];
    m["std"] = r.stddev[j];
    py::list folds;
    for (const EvalReport& f : r.folds) folds.append(f.values[j]);
    m["folds"] = folds;
    out[py::str(r.metrics[j].Name())] = m;
  }
  return out;
}

// k-fold cross-validation of model `kind` (CrossValidate) with the metrics
// of ParseMetrics.
py::dict CrossValidateModel(const std::string& kind,
                            const std::vector<std::pair<std::string, std::string>>& params,
                            const Data& data, uint32_t folds, bool per_user, uint32_t min_train,
                            const std::string& metrics, uint64_t seed,
                            std::optional<float> relevance_threshold, int threads) {
  ModelParams p = ParamsFromList(kind, params);
  std::vector<Metric> ms = Unwrap(ParseMetrics(metrics));
  FoldOptions fo;
  fo.folds = folds;
  fo.per_user = per_user;
  fo.min_train = min_train;
  fo.seed = seed;
  fo.threads = threads;
  if (folds < 2 || folds > kMaxFolds) {
    ThrowInvalid("folds must be in 2.." + std::to_string(kMaxFolds) + ", got " +
                 std::to_string(folds));
  }
  EvalOptions eo;
  eo.relevance_threshold = relevance_threshold;
  eo.threads = threads;
  Result<CvReport> report = Status::Internal("not run");
  {
    py::gil_scoped_release release;
    Result<FoldAssignment> assignment = KFoldSplit(*data.data, fo);
    if (!assignment.ok()) {
      report = assignment.status();
    } else {
      report = CrossValidate(kind, p, *data.data, assignment.value(), ms, eo);
    }
  }
  return ReportToDict(Unwrap(std::move(report)));
}

}  // namespace
}  // namespace encore::python

PYBIND11_MODULE(_encore, m) {
  using namespace encore;
  using namespace encore::python;
  m.doc() = "encore's C++ library (the facade of include/encore); use the `encore` package.";
  m.attr("__version__") = ENCORE_VERSION;

  m.def(
      "set_exception_types",
      [](py::dict types) {
        for (auto item : types) {
          ExceptionTypes()[item.first.cast<std::string>()] =
              py::reinterpret_borrow<py::object>(item.second);
        }
      },
      "Registers the Python exception class raised for each Status code name.");
  m.def("model_kinds", &RecommenderKinds, "Registry names of the models, sorted.");
  m.def("param_table", &ParamTable, py::arg("kind") = "",
        "The model parameter table: (name, type, models, help, default) per row; the default "
        "is `kind`'s (\"\": Spark's, as ModelParams{}).");
  m.def(
      "input_option_table",
      []() {
        py::list out;
        for (const auto& info : InputOptionTable()) {
          out.append(py::make_tuple(info.name, InputOptionTypeName(info.type),
                                    InputOptionDefault(info), info.values, info.help));
        }
        return out;
      },
      "The input option table: (name, type, default, values, help) per row.");

  py::class_<Data>(m, "Data", "A Dataset (users x items, both orientations, id dictionaries).")
      .def_static("from_csr", &DataFromCsr, py::arg("indptr"), py::arg("indices"),
                  py::arg("values"), py::arg("rows"), py::arg("cols"), py::arg("threads") = 0)
      .def_static("from_columns", &DataFromColumns, py::arg("users"), py::arg("items"),
                  py::arg("values"), py::arg("events"), py::arg("times"), py::arg("feedback"),
                  py::arg("weights"), py::arg("transform"), py::arg("duplicates"),
                  py::arg("threads") = 0)
      .def_property_readonly("num_users", [](const Data& d) { return d.data->users.size(); })
      .def_property_readonly("num_items", [](const Data& d) { return d.data->items.size(); })
      .def_property_readonly("nnz", [](const Data& d) { return d.data->nnz(); })
      .def_property_readonly("user_ids", [](const Data& d) { return Names(d.data->users); })
      .def_property_readonly("item_ids", [](const Data& d) { return Names(d.data->items); })
      .def("csr", [](const Data& d) { return CsrArrays(d.data->by_user); })
      .def("times", [](const Data& d) -> py::object {
        const auto& t = d.data->by_user.times;
        if (t.empty()) return py::none();
        py::array_t<int64_t> out(t.size());
        std::copy(t.begin(), t.end(), out.mutable_data());
        return out;
      });

  m.def("read_interactions", &ReadInteractionFiles, py::arg("files"), py::arg("options"));
  m.def("train_test_split", &TrainTestSplit, py::arg("data"), py::arg("method"),
        py::arg("test_fraction"), py::arg("leave_k"), py::arg("min_train"), py::arg("seed"),
        py::arg("threads") = 0);
  m.def("cross_validate", &CrossValidateModel, py::arg("kind"), py::arg("params"), py::arg("data"),
        py::arg("folds"), py::arg("per_user"), py::arg("min_train"), py::arg("metrics"),
        py::arg("seed"), py::arg("relevance_threshold"), py::arg("threads") = 0);
  m.def("ranking_metrics", &RankingMetrics, py::arg("model"), py::arg("test_indptr"),
        py::arg("test_indices"), py::arg("test_values"), py::arg("train_indptr"),
        py::arg("train_indices"), py::arg("train_values"), py::arg("k"));

  py::class_<Model> model(m, "Model", "A model of the registry, fitted or loaded.");
  model
      .def(py::init<std::string, const std::vector<std::pair<std::string, std::string>>&>(),
           py::arg("kind"), py::arg("params"))
      .def_property_readonly("kind", &Model::kind)
      .def_property_readonly("params", &Model::params)
      .def_property_readonly("fitted", &Model::fitted)
      .def_property_readonly("num_users", &Model::num_users)
      .def_property_readonly("num_items", &Model::num_items)
      .def_property_readonly("user_ids", &Model::user_ids)
      .def_property_readonly("item_ids", &Model::item_ids)
      .def("lookup", &Model::Lookup, py::arg("ids"), py::arg("users"))
      .def("fit", &Model::Fit, py::arg("data"), py::arg("callback") = py::none())
      .def("factors", [](const Model& self) { return self.Factors(py::none()); })
      .def("recommend", &Model::Recommend, py::arg("users"), py::arg("liked_indptr"),
           py::arg("liked_indices"), py::arg("liked_values"), py::arg("n"), py::arg("filter_liked"),
           py::arg("filter_items"), py::arg("items"), py::arg("recalculate"))
      .def("similar_items", &Model::SimilarItems, py::arg("items"), py::arg("n"))
      .def("save", &Model::Save, py::arg("path"))
      .def("set_threads", &Model::set_threads, py::arg("threads"))
      .def_static("load", &LoadModelFile, py::arg("path"));
#ifdef ENCORE_PY_EXPLAIN
  model.def("explain", &Model::Explain, py::arg("user"), py::arg("item"), py::arg("history_items"),
            py::arg("history_weights"));
#endif
}
