#include "rank/ranked_writer.h"

#include <cerrno>
#include <cstring>

namespace encore::rank {

RankedWriter::RankedWriter(std::string path, std::FILE* f, RowEncoder encoder)
    : path_(std::move(path)), file_(f), encoder_(std::move(encoder)), buf_(encoder_.Header()) {}

RankedWriter::~RankedWriter() {
  if (!closed_) {
    std::fclose(file_);
    std::remove((path_ + ".tmp").c_str());
  }
}

Result<std::unique_ptr<RankedWriter>> RankedWriter::Open(const std::string& path,
                                                         std::string key_name,
                                                         std::string item_name) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return Status::IOError("cannot create '" + tmp + "': " + std::strerror(errno) +
                           "; check the output directory exists and is writable");
  }
  const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
  RowEncoder encoder(jsonl ? RowFormat::kJsonLines : RowFormat::kCsv, std::move(key_name),
                     std::move(item_name));
  return std::unique_ptr<RankedWriter>(new RankedWriter(path, f, std::move(encoder)));
}

Status RankedWriter::Write(std::string_view key, std::span<const ScoredItem> list,
                           const IdDictionary& items) {
  ENCORE_RETURN_IF_ERROR(encoder_.AppendList(key, list, items, &buf_));
  rows_ += list.size();
  if (buf_.size() >= (1u << 20)) return Flush();
  return Status::OK();
}

Status RankedWriter::Flush() {
  if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) {
    return Status::IOError("cannot write '" + path_ + ".tmp': " + std::strerror(errno));
  }
  buf_.clear();
  return Status::OK();
}

Status RankedWriter::Close() {
  ENCORE_RETURN_IF_ERROR(Flush());
  closed_ = true;
  bool ok = std::fflush(file_) == 0;
  ok = std::fclose(file_) == 0 && ok;
  const std::string tmp = path_ + ".tmp";
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IOError("cannot finish '" + path_ + "': " + std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace encore::rank
