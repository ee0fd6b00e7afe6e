#include "stream/redis_events.h"

#include <cstdlib>

#include "store/redis_client.h"

namespace encore::stream {

namespace {

using store::Connection;
using store::Endpoint;
using store::Reply;
using store::ReplyText;

constexpr timeval kCommandTimeout{30, 0};

Status Unexpected(const char* what) {
  return Status::Internal(std::string("unexpected ") + what + " reply from redis");
}

}  // namespace

int64_t StreamEntry::ms() const { return std::strtoll(id.c_str(), nullptr, 10); }

struct RedisEventLog::Impl {
  Endpoint ep;
  Connection conn;

  Status Ensure() {
    if (conn.connected()) return Status::OK();
    return conn.Connect(ep, kCommandTimeout);
  }
  Result<Reply> Run(const std::vector<std::string>& args) {
    ENCORE_RETURN_IF_ERROR(Ensure());
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return conn.RunArgv(static_cast<int>(argv.size()), argv.data(), lens.data());
  }
};

RedisEventLog::RedisEventLog(std::unique_ptr<Impl> impl, std::string stream)
    : impl_(std::move(impl)), stream_(std::move(stream)) {}
RedisEventLog::~RedisEventLog() = default;

Result<std::unique_ptr<RedisEventLog>> RedisEventLog::Open(const std::string& uri,
                                                           std::string stream) {
  if (stream.empty()) {
    return Status::InvalidArgument("empty stream key; pass --stream KEY (e.g. --stream events)");
  }
  auto impl = std::make_unique<Impl>();
  ENCORE_ASSIGN_OR_RETURN(impl->ep, store::ParseUri(uri));
  ENCORE_RETURN_IF_ERROR(impl->Ensure());
  return std::unique_ptr<RedisEventLog>(new RedisEventLog(std::move(impl), std::move(stream)));
}

Status RedisEventLog::EnsureGroup(const std::string& group) {
  auto r = impl_->Run({"XGROUP", "CREATE", stream_, group, "0", "MKSTREAM"});
  if (r.ok() || r.status().message().find("BUSYGROUP") != std::string::npos) return Status::OK();
  return r.status();
}

Status RedisEventLog::ReadBatch(const std::string& group, const std::string& consumer,
                                uint32_t count, uint32_t block_ms, std::vector<StreamEntry>* out) {
  out->clear();
  for (int pass = 0; pass < 2; ++pass) {
    const bool pending = !pending_done_;
    std::vector<std::string> args = {"XREADGROUP", "GROUP", group,
                                     consumer,     "COUNT", std::to_string(count)};
    if (!pending) {
      args.push_back("BLOCK");
      args.push_back(std::to_string(block_ms));
    }
    args.push_back("STREAMS");
    args.push_back(stream_);
    args.push_back(pending ? "0" : ">");
    auto reply = impl_->Run(args);
    if (!reply.ok()) {
      if (reply.status().message().find("NOGROUP") != std::string::npos) {
        return Status::NotFound("the consumer group '" + group + "' of stream '" + stream_ +
                                "' does not exist (deleted while running?)");
      }
      return reply.status();
    }
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_NIL) return Status::OK();  // BLOCK timed out
    if (r->type != REDIS_REPLY_ARRAY) return Unexpected("XREADGROUP");
    for (size_t s = 0; s < r->elements; ++s) {
      const redisReply* st = r->element[s];
      if (st->type != REDIS_REPLY_ARRAY || st->elements != 2) return Unexpected("XREADGROUP");
      const redisReply* entries = st->element[1];
      if (entries->type != REDIS_REPLY_ARRAY) return Unexpected("XREADGROUP");
      for (size_t i = 0; i < entries->elements; ++i) {
        const redisReply* e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) return Unexpected("XREADGROUP");
        StreamEntry entry;
        entry.id = std::string(ReplyText(e->element[0]));
        const redisReply* fields = e->element[1];
        // A pending entry deleted from the stream (XDEL, MAXLEN) has nil fields.
        if (fields->type == REDIS_REPLY_ARRAY) {
          for (size_t k = 0; k + 1 < fields->elements; k += 2) {
            entry.fields.emplace_back(ReplyText(fields->element[k]),
                                      ReplyText(fields->element[k + 1]));
          }
        }
        out->push_back(std::move(entry));
      }
    }
    if (pending) {
      if (out->empty()) {
        pending_done_ = true;
        continue;  // no pending entries left: read new ones
      }
      return Status::OK();
    }
    return Status::OK();
  }
  return Status::OK();
}

Status RedisEventLog::Range(const std::string& after, uint32_t count,
                            std::vector<StreamEntry>* out) {
  out->clear();
  auto reply = impl_->Run(
      {"XRANGE", stream_, after == "0" ? "-" : "(" + after, "+", "COUNT", std::to_string(count)});
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY) return Unexpected("XRANGE");
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) return Unexpected("XRANGE");
    StreamEntry entry;
    entry.id = std::string(ReplyText(e->element[0]));
    const redisReply* fields = e->element[1];
    if (fields->type == REDIS_REPLY_ARRAY) {
      for (size_t k = 0; k + 1 < fields->elements; k += 2) {
        entry.fields.emplace_back(ReplyText(fields->element[k]), ReplyText(fields->element[k + 1]));
      }
    }
    out->push_back(std::move(entry));
  }
  return Status::OK();
}

Status RedisEventLog::Ack(const std::string& group, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::OK();
  std::vector<std::string> args = {"XACK", stream_, group};
  args.insert(args.end(), ids.begin(), ids.end());
  return impl_->Run(args).status();
}

Result<int64_t> RedisEventLog::Lag(const std::string& group) {
  ENCORE_ASSIGN_OR_RETURN(Reply r, impl_->Run({"XINFO", "GROUPS", stream_}));
  if (r->type != REDIS_REPLY_ARRAY) return Unexpected("XINFO GROUPS");
  for (size_t g = 0; g < r->elements; ++g) {
    const redisReply* info = r->element[g];
    if (info->type != REDIS_REPLY_ARRAY) continue;
    bool ours = false;
    int64_t lag = -1;
    for (size_t k = 0; k + 1 < info->elements; k += 2) {
      std::string_view key = ReplyText(info->element[k]);
      const redisReply* v = info->element[k + 1];
      if (key == "name" && v->type == REDIS_REPLY_STRING) ours = ReplyText(v) == group;
      if (key == "lag" && v->type == REDIS_REPLY_INTEGER) lag = v->integer;
    }
    if (ours) return lag;
  }
  return int64_t{-1};
}

Status RedisEventLog::Append(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& entries,
    std::vector<std::string>* ids) {
  ids->clear();
  ENCORE_RETURN_IF_ERROR(impl_->Ensure());
  for (const auto& fields : entries) {
    std::vector<const char*> argv = {"XADD", stream_.data(), "*"};
    std::vector<size_t> lens = {4, stream_.size(), 1};
    for (const auto& [k, v] : fields) {
      argv.push_back(k.data());
      lens.push_back(k.size());
      argv.push_back(v.data());
      lens.push_back(v.size());
    }
    ENCORE_RETURN_IF_ERROR(
        impl_->conn.Append(static_cast<int>(argv.size()), argv.data(), lens.data()));
  }
  Status first;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto reply = impl_->conn.NextReply();
    if (!reply.ok()) {
      if (first.ok()) first = reply.status();
      if (!impl_->conn.connected()) return first;
      continue;
    }
    ids->emplace_back(ReplyText(reply->get()));
  }
  return first;
}

Result<int64_t> RedisEventLog::Length() {
  ENCORE_ASSIGN_OR_RETURN(Reply r, impl_->Run({"XLEN", stream_}));
  if (r->type != REDIS_REPLY_INTEGER) return Unexpected("XLEN");
  return static_cast<int64_t>(r->integer);
}

}  // namespace encore::stream
