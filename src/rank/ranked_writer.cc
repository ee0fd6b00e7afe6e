#include "rank/ranked_writer.h"

namespace encore::rank {

RankedWriter::RankedWriter(std::string path, std::unique_ptr<io::OutputFile> f,
                           RowEncoder encoder)
    : path_(std::move(path)),
      file_(std::move(f)),
      encoder_(std::move(encoder)),
      buf_(encoder_.Header()) {}

RankedWriter::~RankedWriter() = default;  // an uncommitted OutputFile removes its temporary

Result<std::unique_ptr<RankedWriter>> RankedWriter::Open(const std::string& path,
                                                         std::string key_name,
                                                         std::string item_name) {
  ENCORE_ASSIGN_OR_RETURN(io::TextFormat format, io::TextFormatForPath(path));
  ENCORE_ASSIGN_OR_RETURN(auto file, io::OutputFile::Open(path));
  RowEncoder encoder(format == io::TextFormat::kJsonl ? RowFormat::kJsonLines : RowFormat::kCsv,
                     std::move(key_name), std::move(item_name));
  return std::unique_ptr<RankedWriter>(new RankedWriter(path, std::move(file), std::move(encoder)));
}

Status RankedWriter::Write(std::string_view key, std::span<const ScoredItem> list,
                           const IdDictionary& items) {
  ENCORE_RETURN_IF_ERROR(encoder_.AppendList(key, list, items, &buf_));
  rows_ += list.size();
  if (buf_.size() >= (1u << 20)) return Flush();
  return Status::OK();
}

Status RankedWriter::Flush() {
  if (!buf_.empty()) ENCORE_RETURN_IF_ERROR(file_->Write(buf_));
  buf_.clear();
  return Status::OK();
}

Status RankedWriter::Close() {
  ENCORE_RETURN_IF_ERROR(Flush());
  closed_ = true;
  return file_->Commit();
}

}  // namespace encore::rank
