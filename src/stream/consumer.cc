// The stream consumer loop (encore/stream.h, RunConsumer).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "encore/stream.h"
#include "stream/redis_events.h"
#include "util/time_format.h"

namespace encore {

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void RecordLatency(double ms, ConsumerStats* stats) {
  size_t b = 0;
  while (b < std::size(ConsumerStats::kLatencyBoundsMs) && ms > ConsumerStats::kLatencyBoundsMs[b])
    ++b;
  ++stats->latency_buckets[b];
  stats->latency_sum_ms += ms;
  ++stats->latency_count;
}

std::string KeyFor(const Event& e, const std::string& source_key) {
  if (!e.id.empty()) return "id:" + e.id;
  return source_key;
}

// Events per second over a sliding window of recent batches.
class Rate {
 public:
  double Add(uint64_t events) {
    const auto now = Clock::now();
    window_.push_back({now, events});
    total_ += events;
    while (window_.size() > 1 && now - window_.front().first > std::chrono::seconds(5)) {
      total_ -= window_.front().second;
      window_.pop_front();
    }
    const double seconds = std::chrono::duration<double>(now - window_.front().first).count();
    return seconds > 0.05 ? static_cast<double>(total_ - window_.front().second) / seconds : 0;
  }

 private:
  std::deque<std::pair<Clock::time_point, uint64_t>> window_;
  uint64_t total_ = 0;
};

// A rejected entry as written to the dead-letter stream.
std::vector<std::pair<std::string, std::string>> DeadLetter(
    const std::vector<std::pair<std::string, std::string>>& fields, const EventRejection& rejection,
    const std::string& stream, const std::string& id) {
  auto out = fields;
  out.emplace_back("reason", rejection.label);
  out.emplace_back("field", rejection.field);
  out.emplace_back("detail", rejection.reason);
  out.emplace_back("source_stream", stream);
  out.emplace_back("source_id", id);
  return out;
}

}  // namespace

Result<int64_t> ParseRetention(std::string_view text) {
  if (text == "none" || text == "0") return 0;
  int64_t amount = 0;
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && amount < 1'000'000'000) {
    amount = amount * 10 + (text[i] - '0');
    ++i;
  }
  const std::string_view unit = text.substr(i);
  int64_t per = 0;
  if (unit == "s") per = 1;
  if (unit == "m") per = 60;
  if (unit == "h") per = 3600;
  if (unit == "d") per = 86400;
  if (unit == "w") per = 7 * 86400;
  if (i == 0 || amount <= 0 || per == 0 || amount > int64_t{100} * 365 * 86400 / per) {
    return Status::InvalidArgument("retention '" + std::string(text) +
                                   "' is not a duration: write an integer and a unit s, m, h, d "
                                   "or w (e.g. 7d, 36h), or none (keep every id for good)");
  }
  return amount * per;
}

std::string ConsumerStats::Prometheus() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v) + "\n";
  };
  counter("encore_stream_events_received_total", "Entries read from the event source.", received);
  counter("encore_stream_events_applied_total", "Events counted into the live totals.", applied);
  counter("encore_stream_events_duplicate_total", "Events skipped: their id was applied before.",
          duplicates);
  counter("encore_stream_payloads_rebuilt_total", "User payloads rebuilt by the speed layer.",
          rebuilt);
  counter("encore_stream_source_errors_total",
          "Failed reads, acknowledgements or writes that were retried (Redis or the store down).",
          source_errors);
  out +=
      "# HELP encore_stream_events_rejected_total Events rejected, by reason.\n"
      "# TYPE encore_stream_events_rejected_total counter\n";
  for (const auto& [reason, n] : rejected) {
    out += "encore_stream_events_rejected_total{reason=\"" + reason + "\"} " + std::to_string(n) +
           "\n";
  }
  char buf[64];
  out +=
      "# HELP encore_stream_consumer_lag Stream entries not yet delivered to the consumer group "
      "(-1: unknown).\n# TYPE encore_stream_consumer_lag gauge\nencore_stream_consumer_lag " +
      std::to_string(lag) + "\n";
  std::snprintf(buf, sizeof buf, "%.3f", events_per_second);
  out +=
      "# HELP encore_stream_events_per_second Events applied per second (last 5 s).\n"
      "# TYPE encore_stream_events_per_second gauge\nencore_stream_events_per_second " +
      std::string(buf) + "\n";
  out +=
      "# HELP encore_stream_event_to_served_seconds From the event's append to its payload "
      "being durable in the store (served from then on).\n"
      "# TYPE encore_stream_event_to_served_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < latency_buckets.size(); ++b) {
    cumulative += latency_buckets[b];
    std::string le = "+Inf";
    if (b < std::size(kLatencyBoundsMs)) {
      std::snprintf(buf, sizeof buf, "%g", kLatencyBoundsMs[b] / 1000);
      le = buf;
    }
    out += "encore_stream_event_to_served_seconds_bucket{le=\"" + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  std::snprintf(buf, sizeof buf, "%.6f", latency_sum_ms / 1000);
  out += "encore_stream_event_to_served_seconds_sum " + std::string(buf) + "\n";
  out += "encore_stream_event_to_served_seconds_count " + std::to_string(latency_count) + "\n";
  counter("encore_stream_event_ids_expired_total",
          "Applied event ids dropped after their retention (--dedup-retention).", keys_expired);
  counter("encore_stream_events_dead_lettered_total",
          "Rejected stream entries written to the dead-letter stream.", dead_lettered);
  counter("encore_stream_item_refreshes_total",
          "Item-side refreshes published (Kappa: item factors re-fitted from the live totals).",
          item_refreshes);
  counter("encore_stream_item_refresh_errors_total", "Item-side refreshes that failed.",
          item_refresh_errors);
  std::snprintf(buf, sizeof buf, "%.3f", item_refresh_seconds);
  out +=
      "# HELP encore_stream_item_refresh_seconds Duration of the last item-side refresh.\n"
      "# TYPE encore_stream_item_refresh_seconds gauge\nencore_stream_item_refresh_seconds " +
      std::string(buf) + "\n";
  out +=
      "# HELP encore_stream_snapshot_version The snapshot the speed layer folds in over.\n"
      "# TYPE encore_stream_snapshot_version gauge\nencore_stream_snapshot_version " +
      std::to_string(snapshot_version) + "\n";
  return out;
}

Status RunConsumer(Store* store, const SpeedLayerOptions& speed, const ConsumerOptions& options,
                   ConsumerStats* stats) {
  const bool redis = !options.redis_uri.empty();
  if (redis == !options.events_path.empty()) {
    return Status::InvalidArgument(
        "give exactly one event source: --redis URI --stream KEY --group NAME, or --events FILE");
  }
  EventSchema schema = options.schema;
  if (schema.known_types.empty()) {
    for (const auto& [type, w] : speed.weights) schema.known_types.push_back(type);
  }
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<SpeedLayer> layer, SpeedLayer::Open(store, speed));
  LiveStore* live = layer->live();

  std::unique_ptr<stream::RedisEventLog> log;
  std::unique_ptr<stream::RedisEventLog> dead_log;  // the dead-letter stream (Redis only)
  using Fields = std::vector<std::pair<std::string, std::string>>;
  std::vector<Fields> dead;  // this batch's rejected entries, as written there
  std::ifstream file;
  std::istream* in = nullptr;
  if (redis) {
    if (options.group.empty()) return Status::InvalidArgument("empty --group");
    ENCORE_ASSIGN_OR_RETURN(log,
                            stream::RedisEventLog::Open(options.redis_uri, options.stream_key));
    ENCORE_RETURN_IF_ERROR(log->EnsureGroup(options.group));
    if (!options.dead_letter_stream.empty()) {
      ENCORE_ASSIGN_OR_RETURN(
          dead_log, stream::RedisEventLog::Open(options.redis_uri, options.dead_letter_stream));
    }
  } else if (options.events_path == "-") {
    in = &std::cin;
  } else {
    file.open(options.events_path, std::ios::binary);
    if (!file) {
      return Status::IOError("cannot open --events '" + options.events_path + "'; check the path");
    }
    in = &file;
  }

  Rate rate;
  auto last_refresh = Clock::now();
  auto last_activity = Clock::now();
  auto last_metrics = Clock::time_point();
  uint64_t line_no = 0;
  std::vector<stream::StreamEntry> entries;
  std::vector<KeyedEvent> events;
  std::vector<std::string> ack;
  std::vector<int64_t> appended;
  std::vector<std::string> where;  // per event: its source id (entry id, "line N")
  std::vector<size_t> entry_of;    // per event: its index in `entries` (Redis)
  bool source_done = false;

  auto write_metrics = [&](bool force) -> Status {
    const auto now = Clock::now();
    if (!force && now - last_metrics < std::chrono::seconds(1)) return Status::OK();
    last_metrics = now;
    if (log) {
      auto lag = log->Lag(options.group);
      if (lag.ok()) stats->lag = *lag;
    }
    return live->Write({{LiveStore::Entry::Kind::kState, 0, "metrics", stats->Prometheus()}});
  };

  // Redis unreachable (IOError) or the group gone (a Redis restart without
  // persistence): wait with a growing delay (50 ms .. 5 s), recreate the
  // group, re-read this consumer's pending entries and go on. Other errors
  // end the run.
  auto backoff = std::chrono::milliseconds(0);
  auto retry = [&](const Status& s) -> bool {
    if (s.code() != StatusCode::kIOError && s.code() != StatusCode::kNotFound) return false;
    ++stats->source_errors;
    if (options.on_error) options.on_error(s);
    backoff = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(5000),
        std::max<std::chrono::milliseconds>(std::chrono::milliseconds(50), backoff * 2));
    const auto until = Clock::now() + backoff;
    while (Clock::now() < until && !(options.stop != nullptr && options.stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (void)log->EnsureGroup(options.group);
    log->RereadPending();
    return true;
  };

  // The item-side refresh runs on its own thread (one at a time); intake
  // goes on, and the new snapshot is picked up by CheckSnapshot below.
  const bool item_refresh = options.item_refresh_events > 0 || options.item_refresh_seconds > 0;
  if (item_refresh) {
    // Fail at the start, not at the first refresh, when it cannot work.
    ENCORE_RETURN_IF_ERROR(layer->PrepareItemRefresh(options.item_refresh).status());
  }
  // Declared in this order so that an early return waits for the job (the
  // future's destructor) before its state goes.
  std::unique_ptr<ItemRefresh> refresh_state;
  std::future<Result<ItemRefreshReport>> refresh_job;
  uint64_t applied_at_refresh = 0;
  auto refresh_started = Clock::now();
  bool force_check = false;
  auto finish_refresh = [&](bool wait) {
    if (!refresh_job.valid()) return;
    if (!wait && refresh_job.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    Result<ItemRefreshReport> r = refresh_job.get();
    refresh_state.reset();
    if (r.ok()) {
      ++stats->item_refreshes;
      stats->item_refresh_seconds = r->seconds;
      if (options.on_item_refresh) options.on_item_refresh(*r);
      force_check = true;
    } else {
      ++stats->item_refresh_errors;
      if (options.on_error) options.on_error(r.status());
    }
  };
  auto maybe_start_refresh = [&]() -> Status {
    if (!item_refresh || refresh_job.valid() || layer->rebasing()) return Status::OK();
    const uint64_t since = stats->applied - applied_at_refresh;
    const bool by_events = options.item_refresh_events > 0 && since >= options.item_refresh_events;
    const bool by_time =
        options.item_refresh_seconds > 0 && since > 0 &&
        Clock::now() - refresh_started >= std::chrono::seconds(options.item_refresh_seconds);
    if (!by_events && !by_time) return Status::OK();
    ENCORE_ASSIGN_OR_RETURN(refresh_state, layer->PrepareItemRefresh(options.item_refresh));
    applied_at_refresh = stats->applied;
    refresh_started = Clock::now();
    const ItemRefresh* job = refresh_state.get();
    refresh_job = std::async(std::launch::async, [job] { return job->Run(); });
    return Status::OK();
  };
  // New snapshot (a batch publish, a rollback or an item refresh): fold in
  // over it from now on and rebase the live users a slice at a time.
  auto check_snapshot = [&](bool all) -> Status {
    if (force_check ||
        Clock::now() - last_refresh >= std::chrono::milliseconds(options.refresh_ms)) {
      last_refresh = Clock::now();
      force_check = false;
      bool changed = false;
      Status s = layer->CheckSnapshot(&changed);
      if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    }
    while (layer->rebasing()) {
      ENCORE_ASSIGN_OR_RETURN(bool done, layer->RebaseSome(256));
      if (done || !all) break;
    }
    stats->snapshot_version = layer->snapshot_version();
    return Status::OK();
  };
  // Before returning: the refresh in flight is finished and rebased on.
  auto drain = [&]() -> Status {
    if (!refresh_job.valid()) return Status::OK();
    finish_refresh(true);
    return check_snapshot(true);
  };

  while (!source_done) {
    if (options.stop != nullptr && options.stop->load()) break;
    finish_refresh(false);
    ENCORE_RETURN_IF_ERROR(check_snapshot(false));
    ENCORE_RETURN_IF_ERROR(maybe_start_refresh());
    // Read one batch.
    events.clear();
    ack.clear();
    appended.clear();
    where.clear();
    entry_of.clear();
    dead.clear();
    size_t received = 0;
    if (log) {
      if (Status s = log->ReadBatch(options.group, options.consumer, options.batch,
                                    options.window_ms, &entries);
          !s.ok()) {
        if (!retry(s)) return s;
        continue;
      }
      received = entries.size();
      for (const auto& entry : entries) {
        ack.push_back(entry.id);
        Event e;
        EventRejection rejection;
        if (entry.fields.empty()) {
          rejection.field = "";
          rejection.label = "deleted";
          rejection.reason = "the entry was deleted from the stream before it was applied";
        } else if (EventFromFields(entry.fields, schema, &e, &rejection)) {
          events.push_back({std::move(e), "", entry.ms(), entry.id});
          events.back().key =
              KeyFor(events.back().event, "r:" + options.stream_key + ":" + entry.id);
          where.push_back(entry.id);
          entry_of.push_back(static_cast<size_t>(&entry - entries.data()));
          continue;
        }
        ++stats->rejected[rejection.label];
        if (options.on_reject) options.on_reject(rejection, entry.id);
        if (dead_log)
          dead.push_back(DeadLetter(entry.fields, rejection, options.stream_key, entry.id));
      }
    } else {
      std::string line;
      while (events.size() < options.batch && std::getline(*in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ++received;
        Event e;
        EventRejection rejection;
        if (EventFromJson(line, schema, &e, &rejection)) {
          std::string key = KeyFor(e, "");
          events.push_back({std::move(e), std::move(key), 0, ""});
          where.push_back("line " + std::to_string(line_no));
        } else {
          rejection.index = line_no;
          ++stats->rejected[rejection.label];
          if (options.on_reject) options.on_reject(rejection, "line " + std::to_string(line_no));
        }
      }
      if (!*in) source_done = true;
    }
    stats->received += received;
    // Applied keys past their retention go, a few pages at a time.
    if (auto expired = layer->ExpireKeys(received == 0 ? 256 : 16); expired.ok()) {
      stats->keys_expired += *expired;
    } else if (!log || !retry(expired.status())) {
      return expired.status();
    }
    if (received == 0) {
      if (options.idle_exit_ms > 0 &&
          Clock::now() - last_activity >= std::chrono::milliseconds(options.idle_exit_ms)) {
        break;
      }
      ENCORE_RETURN_IF_ERROR(write_metrics(false));
      continue;
    }
    last_activity = Clock::now();
    // Apply: one durable write; only then acknowledge.
    auto report = layer->Apply(events);
    if (!report.ok()) {
      // Nothing of the batch is durable: with Redis the entries are still
      // pending and are read again; a file source cannot re-read them.
      if (!log || !retry(report.status())) return report.status();
      continue;
    }
    const int64_t now_ms = NowMs();
    for (size_t k = 0, t = 0; k < events.size(); ++k) {
      if (t < report->too_old.size() && report->too_old[t] == k) {
        ++t;
        continue;
      }
      const KeyedEvent& e = events[k];
      if (e.appended_ms > 0) RecordLatency(static_cast<double>(now_ms - e.appended_ms), stats);
    }
    stats->applied += report->applied;
    stats->duplicates += report->duplicates;
    stats->rebuilt += report->users;
    ++stats->batches;
    stats->events_per_second = rate.Add(report->applied);
    for (size_t index : report->too_old) {
      EventRejection rejection;
      rejection.field = "ts";
      rejection.label = "too_old";
      const Event& e = events[index].event;
      const int64_t at = e.time ? *e.time : events[index].appended_ms / 1000;
      rejection.reason = std::string(e.time ? "event time " : "appended at ") + FormatUtcTime(at) +
                         ", older than the retention of applied ids (" +
                         std::to_string(speed.dedup_retention_seconds) +
                         " s): its id may have been dropped, so it is not counted "
                         "(--dedup-retention)";
      ++stats->rejected[rejection.label];
      if (options.on_reject) options.on_reject(rejection, where[index]);
      if (dead_log) {
        dead.push_back(DeadLetter(entries[entry_of[index]].fields, rejection, options.stream_key,
                                  where[index]));
      }
    }
    if (dead_log && !dead.empty()) {
      // Before the XACK: a crash in between writes them again on redelivery
      // (at least once), never loses one.
      std::vector<std::string> dead_ids;
      if (Status s = dead_log->Append(dead, &dead_ids); !s.ok()) {
        s = Status(s.code(),
                   "dead-letter stream '" + options.dead_letter_stream + "': " + s.message());
        if (!retry(s)) return s;
        continue;
      }
      stats->dead_lettered += dead.size();
    }
    if (log) {
      // The effects are durable: an entry whose XACK is lost is redelivered
      // and skipped as a duplicate.
      if (Status s = log->Ack(options.group, ack); !s.ok() && !retry(s)) return s;
    }
    backoff = std::chrono::milliseconds(0);
    ENCORE_RETURN_IF_ERROR(write_metrics(false));
    if (options.on_batch) options.on_batch(*stats);
    ENCORE_RETURN_IF_ERROR(maybe_start_refresh());
  }
  ENCORE_RETURN_IF_ERROR(drain());
  return write_metrics(true);
}

}  // namespace encore
