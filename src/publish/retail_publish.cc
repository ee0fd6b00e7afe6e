// Publishing retail payloads (encore/publish.h, PublishRetail).

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "encore/publish.h"
#include "encore/retail_feeds.h"
#include "store/store_internal.h"
#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore {

Result<RetailPublishReport> PublishRetail(const RetailFeeds& feeds, const TrainedModel& model,
                                          uint32_t keep, Store* store, const FeedRowSink& rows,
                                          Progress* progress, std::span<const FeedRoute> routes) {
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

  constexpr uint32_t kBlock = 2048;
  std::vector<std::string> payloads;
  std::vector<std::string> feed_rows;
  for (uint32_t begin = 0; begin < users; begin += kBlock) {
    const uint32_t end = std::min(users, begin + kBlock);
    const uint32_t count = end - begin;
    payloads.assign(count, std::string());
    feed_rows.assign(rows ? size_t{count} * kNumFeeds : 0, std::string());
#pragma omp parallel for schedule(dynamic, 16)
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t u = begin + i;
      const RetailFeeds& from = routes.empty() ? feeds : *routes[u].feeds;
      MemberFeeds member = from.ForUser(routes.empty() ? u : routes[u].user);
      if (!routes.empty()) {
        member.segment = routes[u].segment;
        member.global_model = routes[u].global_model;
      }
      from.EncodePayload(model.users.Name(u), version, member, &payloads[i]);
      if (rows) {
        for (int f = 0; f < kNumFeeds; ++f) {
          from.EncodeFeedRow(f, model.users.Name(u), member, &feed_rows[size_t{i} * kNumFeeds + f]);
        }
      }
    }
    for (uint32_t i = 0; i < count; ++i) {
      const std::string_view id = model.users.Name(begin + i);
      if (rows) {
        for (int f = 0; f < kNumFeeds; ++f) {
          ENCORE_RETURN_IF_ERROR(rows(f, id, feed_rows[size_t{i} * kNumFeeds + f]));
        }
      }
      if (id.empty() || id.size() > kMaxStoreKeyBytes) {
        ++report.skipped_ids;
        continue;
      }
      ENCORE_RETURN_IF_ERROR(writer->Put(Table::kUser, id, payloads[i]));
      ++report.payloads;
      report.bytes += id.size() + payloads[i].size();
      report.max_payload_bytes = std::max<uint64_t>(report.max_payload_bytes, payloads[i].size());
    }
    if (progress != nullptr) progress->Update(0, end);
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
