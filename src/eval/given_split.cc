// A training file and a separate test file as one dataset with a one-fold
// assignment (encore/evaluate.h, CombineTrainTest; `encore evaluate
// --test-input`).

#include <absl/container/flat_hash_set.h>

#include <string>
#include <vector>

#include "encore/evaluate.h"

namespace encore {

namespace {

uint64_t PairKey(uint32_t user, uint32_t item) { return (uint64_t{user} << 32) | item; }

// `log` without the rows whose pair is in `drop`; dictionaries unchanged.
InteractionLog WithoutPairs(InteractionLog log, const absl::flat_hash_set<uint64_t>& drop) {
  InteractionLog out;
  out.has_events = log.has_events;
  out.has_times = log.has_times;
  for (size_t r = 0; r < log.size(); ++r) {
    if (drop.contains(PairKey(log.user[r], log.item[r]))) continue;
    out.user.push_back(log.user[r]);
    out.item.push_back(log.item[r]);
    out.value.push_back(log.value[r]);
    if (log.has_events) out.event.push_back(log.event[r]);
    if (log.has_times) out.time.push_back(log.time[r]);
  }
  out.users = std::move(log.users);
  out.items = std::move(log.items);
  out.events = std::move(log.events);
  return out;
}

}  // namespace

Result<TestOverlap> ParseTestOverlap(const std::string& name) {
  if (name == "error") return TestOverlap::kError;
  if (name == "drop-from-test") return TestOverlap::kDropFromTest;
  if (name == "drop-from-train") return TestOverlap::kDropFromTrain;
  return Status::InvalidArgument("unknown test overlap rule '" + name +
                                 "'; use error, drop-from-test or drop-from-train");
}

Result<GivenTrainTest> CombineTrainTest(InteractionLog train, InteractionLog test,
                                        const DatasetOptions& options, TestOverlap overlap) {
  if (train.size() == 0) return Status::InvalidArgument("the training data has no rows");
  if (test.size() == 0) return Status::InvalidArgument("the test data has no rows");
  if (train.has_times != test.has_times) {
    return Status::InvalidArgument(
        std::string("the ") + (train.has_times ? "training" : "test") +
        " data has a time column and the other has none; give both files the same layout");
  }
  GivenTrainTest out;
  const uint32_t train_users = train.users.size(), train_items = train.items.size();
  // Attributes describe rows, not pairs; a held-out file's do not take part.
  train.attributes.clear();
  if (test.has_events && !train.has_events) {
    train.has_events = true;
    for (size_t r = 0; r < train.size(); ++r) train.event.push_back(train.events.Intern(""));
  }
  absl::flat_hash_set<uint64_t> train_pairs, test_pairs, both;
  train_pairs.reserve(train.size());
  for (size_t r = 0; r < train.size(); ++r)
    train_pairs.insert(PairKey(train.user[r], train.item[r]));
  // The test ids are interned into the training dictionaries (new ids get
  // new indices); test_key[r] is test row r's (user, item) there.
  std::vector<uint64_t> test_key(test.size());
  std::string example;
  for (size_t r = 0; r < test.size(); ++r) {
    const uint32_t u = train.users.Intern(test.users.Name(test.user[r]));
    const uint32_t i = train.items.Intern(test.items.Name(test.item[r]));
    test_key[r] = PairKey(u, i);
    if (train_pairs.contains(test_key[r]) && both.insert(test_key[r]).second && example.empty()) {
      example = "user '" + std::string(train.users.Name(u)) + "', item '" +
                std::string(train.items.Name(i)) + "'";
    }
  }
  out.overlap_pairs = both.size();
  if (!both.empty() && overlap == TestOverlap::kError) {
    return Status::InvalidArgument(
        std::to_string(both.size()) + " (user, item) pair" + (both.size() == 1 ? " is" : "s are") +
        " in both the test and the training data (first: " + example +
        "); a held-out pair must be unseen in training: remove them from one of the files, or "
        "pass --test-overlap drop-from-test or drop-from-train");
  }
  train_pairs = {};
  if (overlap == TestOverlap::kDropFromTrain && !both.empty()) {
    train = WithoutPairs(std::move(train), both);
  }
  // The test rows go after the training rows.
  for (size_t r = 0; r < test.size(); ++r) {
    if (both.contains(test_key[r])) {
      if (overlap == TestOverlap::kDropFromTest) continue;
    }
    test_pairs.insert(test_key[r]);
    train.user.push_back(static_cast<uint32_t>(test_key[r] >> 32));
    train.item.push_back(static_cast<uint32_t>(test_key[r]));
    train.value.push_back(test.value[r]);
    if (train.has_events) {
      train.event.push_back(
          train.events.Intern(test.has_events ? test.events.Name(test.event[r]) : ""));
    }
    if (train.has_times) train.time.push_back(test.time[r]);
  }
  out.test_only_users = train.users.size() - train_users;
  out.test_only_items = train.items.size() - train_items;
  test = InteractionLog();
  ENCORE_ASSIGN_OR_RETURN(out.data, BuildDataset(std::move(train), options));
  // BuildDataset keeps the dictionaries' indices: label each nonzero.
  const CsrMatrix& m = out.data.by_user;
  out.folds.folds = 1;
  out.folds.fold.assign(m.nnz(), kTrainOnly);
  for (uint32_t u = 0; u < m.rows; ++u) {
    for (uint64_t k = m.indptr[u]; k < m.indptr[u + 1]; ++k) {
      if (test_pairs.contains(PairKey(u, m.indices[k]))) out.folds.fold[k] = 0;
    }
  }
  if (out.folds.Count(0) == 0) {
    return Status::InvalidArgument("no test pair is left after building the dataset");
  }
  return out;
}

}  // namespace encore
