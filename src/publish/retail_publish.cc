// Publishing retail payloads (encore/publish.h, PublishRetail).

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "encore/publish.h"
#include "encore/retail_feeds.h"
#include "store/store_internal.h"
#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore {

Result<RetailPublishReport> PublishRetail(
    const RetailFeeds& feeds, const TrainedModel& model, uint32_t keep, Store* store,
    const FeedRowSink& rows, Progress* progress, std::span<const FeedRoute> routes,
    std::span<const std::pair<std::string, std::string>> product_explanations) {
  if (!routes.empty() && routes.size() != model.users.size()) {
    return Status::Internal("PublishRetail: " + std::to_string(routes.size()) + " routes for " +
                            std::to_string(model.users.size()) + " members");
  }
  const auto start = std::chrono::steady_clock::now();
  RetailPublishReport report;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer, store->BeginSnapshot());
  report.snapshot = writer->info();
  const uint64_t version = report.snapshot.version;
  const uint32_t users = model.users.size();
  if (progress != nullptr) progress->StartCount("retail payloads", users, "members");

  // Members are built in blocks on every core (OpenMP) while the previous
  // block is written on this thread (the store's write transaction belongs
  // to it): building block k + 1 overlaps writing block k, and the output
  // stays in member order. Each feed row is cut from the member's payload
  // (the same bytes) rather than encoded again, as it is written. The blocks' strings are
  // reused, so a member costs no allocation once they have grown.
  constexpr uint32_t kBlock = 2048;
  struct Block {
    uint32_t begin = 0, count = 0;
    std::vector<std::string> payloads;
    std::vector<RetailFeeds::FeedSpans> spans;  // each payload's feeds
  };
  auto build = [&](Block* b, uint32_t begin) {
    b->begin = begin;
    b->count = std::min(users, begin + kBlock) - begin;
    if (b->payloads.size() < b->count) b->payloads.resize(b->count);
    if (b->spans.size() < b->count) b->spans.resize(b->count);
    const uint32_t count = b->count;
#pragma omp parallel for schedule(dynamic, 16)
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t u = begin + i;
      const RetailFeeds& from = routes.empty() ? feeds : *routes[u].feeds;
      MemberFeeds member = from.ForUser(routes.empty() ? u : routes[u].user);
      if (!routes.empty()) {
        member.segment = routes[u].segment;
        member.global_model = routes[u].global_model;
      }
      from.EncodePayload(model.users.Name(u), version, member, &b->payloads[i], &b->spans[i]);
    }
  };
  std::string row;
  auto write = [&](const Block& b) -> Status {
    for (uint32_t i = 0; i < b.count; ++i) {
      const std::string_view id = model.users.Name(b.begin + i);
      if (rows) {
        for (int f = 0; f < kNumFeeds; ++f) {
          row.clear();
          RetailFeeds::AppendFeedRowFromPayload(f, id, b.payloads[i], b.spans[i], &row);
          ENCORE_RETURN_IF_ERROR(rows(f, id, row));
        }
      }
      if (id.empty() || id.size() > kMaxStoreKeyBytes) {
        ++report.skipped_ids;
        continue;
      }
      const std::string& payload = b.payloads[i];
      ENCORE_RETURN_IF_ERROR(writer->Put(Table::kUser, id, payload));
      ++report.payloads;
      report.bytes += id.size() + payload.size();
      report.max_payload_bytes = std::max<uint64_t>(report.max_payload_bytes, payload.size());
    }
    return Status::OK();
  };
  Block blocks[2];
  if (users > 0) build(&blocks[0], 0);
  for (uint32_t begin = 0, k = 0; begin < users; begin += kBlock, ++k) {
    const Block& current = blocks[k % 2];
    std::thread next;
    if (begin + kBlock < users) {
      next = std::thread([&, k, begin] { build(&blocks[(k + 1) % 2], begin + kBlock); });
    }
    Status written = write(current);
    if (next.joinable()) next.join();
    ENCORE_RETURN_IF_ERROR(written);
    if (progress != nullptr) progress->Update(0, current.begin + current.count);
  }
  if (progress != nullptr) progress->Finish();

  // The fallback: {"snapshot":V,"fallback":"popular","feeds":{...}} (the
  // server puts the requested id in front as "user").
  std::string fallback;
  feeds.EncodePayload("", version, feeds.Fallback(), &fallback);
  // Drop the leading "user":"", member: the server writes the requested id.
  const std::string prefix = "{\"user\":\"\",";
  if (fallback.compare(0, prefix.size(), prefix) == 0)
    fallback = "{" + fallback.substr(prefix.size());
  ENCORE_RETURN_IF_ERROR(writer->Put(Table::kMeta, "popular", fallback));
  report.bytes += fallback.size();
  uint64_t explained = 0;
  for (const auto& [product, json] : product_explanations) {
    if (product.empty() || product.size() > kMaxStoreKeyBytes) continue;
    ENCORE_RETURN_IF_ERROR(writer->Put(Table::kProduct, product, json));
    ++explained;
  }

  JsonWriter w;
  w.BeginObject();
  w.Key("snapshot");
  w.Uint(version);
  w.Key("created");
  w.String(FormatUtcTime(report.snapshot.created_unix));
  w.Key("model");
  w.BeginObject();
  w.Key("kind");
  w.String(model.model->kind());
  w.EndObject();
  w.Key("counts");
  w.BeginObject();
  w.Key("users");
  w.Uint(users);
  w.Key("items");
  w.Uint(model.items.size());
  w.EndObject();
  w.Key("payloads");
  w.BeginObject();
  w.Key("users");
  w.Uint(report.payloads);
  w.Key("kind");
  w.String("retail");
  w.Key("feeds");
  w.BeginArray();
  for (int f = 0; f < kNumFeeds; ++f) w.String(FeedName(f));
  w.EndArray();
  w.Key("max_payload_bytes");
  w.Uint(report.max_payload_bytes);
  if (!product_explanations.empty()) {
    w.Key("product_explanations");
    w.Uint(explained);
  }
  w.EndObject();
  w.EndObject();
  ENCORE_RETURN_IF_ERROR(writer->Put(Table::kMeta, "info", w.str()));
  ENCORE_RETURN_IF_ERROR(writer->Commit());
  report.snapshot = writer->info();
  if (keep > 0) {
    if (Status s = store->Prune(keep); !s.ok() && progress != nullptr) {
      progress->Note("encore: warning: pruning old snapshots failed: " + s.message());
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace encore
