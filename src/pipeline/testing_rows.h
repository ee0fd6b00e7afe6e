// VectorRowSource: an in-memory RowSource for tests of the output writers.
//
// Thread-safety: const methods may be called from several threads.
#ifndef ENCORE_PIPELINE_TESTING_ROWS_H_
#define ENCORE_PIPELINE_TESTING_ROWS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/output.h"

namespace encore::pipeline::testing {

using Rows = std::vector<std::vector<std::string>>;

class VectorRowSource : public RowSource {
 public:
  VectorRowSource(std::vector<std::string> columns, Rows rows)
      : columns_(std::move(columns)), rows_(std::move(rows)) {}

  const std::vector<std::string>& columns() const override { return columns_; }
  const Rows& rows() const { return rows_; }

  // Fails with `error` instead of delivering row number `row` (1-based).
  void FailAt(size_t row, Status error) {
    fail_at_ = row;
    error_ = std::move(error);
  }

  Status ForEach(
      const std::function<Status(std::span<const std::string_view>)>& row) const override {
    std::vector<std::string_view> cells;
    for (size_t r = 0; r < rows_.size(); ++r) {
      if (r + 1 == fail_at_) return error_;
      cells.assign(rows_[r].begin(), rows_[r].end());
      Status st = row(cells);
      if (!st.ok()) return st;
    }
    return Status::OK();
  }

 private:
  std::vector<std::string> columns_;
  Rows rows_;
  size_t fail_at_ = 0;
  Status error_;
};

}  // namespace encore::pipeline::testing

#endif  // ENCORE_PIPELINE_TESTING_ROWS_H_
