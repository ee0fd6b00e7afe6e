#include "encore/interactions.h"

namespace encore {

size_t InteractionLog::MemoryBytes() const {
  size_t n = users.MemoryBytes() + items.MemoryBytes() + events.MemoryBytes() +
             user.MemoryBytes() + item.MemoryBytes() + value.MemoryBytes() +
             event.MemoryBytes() + time.MemoryBytes();
  for (const auto& a : attributes) n += a.values.MemoryBytes() + a.codes.MemoryBytes();
  return n;
}

void ReadReport::AddRejection(const std::string& kind, Rejection r) {
  ++rows_rejected;
  bool found = false;
  for (auto& [k, count] : rejects_by_kind) {
    if (k == kind) {
      ++count;
      found = true;
      break;
    }
  }
  if (!found) rejects_by_kind.emplace_back(kind, 1);
  if (first_rejections.size() < kMaxListed) first_rejections.push_back(std::move(r));
}

}  // namespace encore
