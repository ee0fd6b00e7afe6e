#include "io/ranked_writer.h"

#include <charconv>
#include <cstring>

#include "util/json_writer.h"

namespace encore::io {

namespace {

void AppendCsvField(std::string_view v, std::string* out) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendFloat(float v, std::string* out) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
}

}  // namespace

RankedWriter::RankedWriter(std::string path, std::unique_ptr<OutputFile> f, bool jsonl,
                           std::string key, std::string item)
    : path_(std::move(path)),
      file_(std::move(f)),
      jsonl_(jsonl),
      key_name_(std::move(key)),
      item_name_(std::move(item)) {
  if (!jsonl_) buf_ = key_name_ + "," + item_name_ + ",score,rank\n";
}

RankedWriter::~RankedWriter() = default;  // an uncommitted OutputFile removes its temporary

Result<std::unique_ptr<RankedWriter>> RankedWriter::Open(const std::string& path,
                                                         std::string key_name,
                                                         std::string item_name) {
  ENCORE_ASSIGN_OR_RETURN(TextFormat format, TextFormatForPath(path));
  ENCORE_ASSIGN_OR_RETURN(auto file, OutputFile::Open(path));
  const bool jsonl = format == TextFormat::kJsonl;
  return std::unique_ptr<RankedWriter>(
      new RankedWriter(path, std::move(file), jsonl, std::move(key_name), std::move(item_name)));
}

Status RankedWriter::Write(std::string_view key, std::string_view item, float score,
                           uint32_t rank) {
  if (jsonl_) {
    buf_ += '{';
    JsonWriter::AppendQuoted(key_name_, &buf_);
    buf_ += ':';
    JsonWriter::AppendQuoted(key, &buf_);
    buf_ += ',';
    JsonWriter::AppendQuoted(item_name_, &buf_);
    buf_ += ':';
    JsonWriter::AppendQuoted(item, &buf_);
    buf_ += ",\"score\":";
    AppendFloat(score, &buf_);
    buf_ += ",\"rank\":";
    buf_ += std::to_string(rank);
    buf_ += "}\n";
  } else {
    AppendCsvField(key, &buf_);
    buf_ += ',';
    AppendCsvField(item, &buf_);
    buf_ += ',';
    AppendFloat(score, &buf_);
    buf_ += ',';
    buf_ += std::to_string(rank);
    buf_ += '\n';
  }
  ++rows_;
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

}  // namespace encore::io
