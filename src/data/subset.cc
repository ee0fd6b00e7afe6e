// Subsets of a Dataset over the same index space (see encore/dataset.h).

#include <algorithm>

#include "encore/dataset.h"

namespace encore {

CsrMatrix SelectNonzeros(const CsrMatrix& m, std::span<const uint8_t> keep) {
  ENCORE_CHECK(keep.size() == m.nnz());
  ENCORE_CHECK(m.indptr.size() == uint64_t{m.rows} + 1);
  const bool with_times = !m.times.empty();
  uint64_t n = 0;
  for (uint8_t k : keep) n += k != 0;
  CsrMatrix out;
  out.rows = m.rows;
  out.cols = m.cols;
  out.indptr.resize(uint64_t{m.rows} + 1);
  out.indices.reserve(n);
  out.values.reserve(n);
  if (with_times) out.times.reserve(n);
  out.indptr[0] = 0;
  for (uint32_t r = 0; r < m.rows; ++r) {
    for (uint64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) {
      if (keep[j] == 0) continue;
      out.indices.push_back(m.indices[j]);
      out.values.push_back(m.values[j]);
      if (with_times) out.times.push_back(m.times[j]);
    }
    out.indptr[r + 1] = out.indices.size();
  }
  return out;
}

Dataset DatasetFromMatrix(const Dataset& like, CsrMatrix by_user, int threads) {
  ENCORE_CHECK(by_user.rows == like.users.size());
  ENCORE_CHECK(by_user.cols == like.items.size());
  Dataset data;
  data.users = like.users.Clone();
  data.items = like.items.Clone();
  data.summary.rows = by_user.nnz();
  if (!by_user.times.empty()) {
    const auto [lo, hi] = std::minmax_element(by_user.times.begin(), by_user.times.end());
    data.summary.time_min = *lo;
    data.summary.time_max = *hi;
  }
  data.by_item = by_user.Transpose(threads);
  data.by_user = std::move(by_user);
  return data;
}

}  // namespace encore
