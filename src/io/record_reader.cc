#include "io/record_reader.h"

#include <algorithm>
#include <cstring>

namespace encore::io {

namespace {
constexpr size_t kNeedMore = static_cast<size_t>(-1);
}  // namespace

RecordReader::RecordReader(std::unique_ptr<ByteSource> source, Mode mode, char separator,
                           bool file_start)
    : source_(std::move(source)), mode_(mode), sep_(separator), started_(!file_start) {
  // Small inputs get a small buffer; it grows for records longer than itself.
  buf_.resize(std::clamp<uint64_t>(source_->file_size() + 1, 4096, 2 * kBlockBytes));
}

Result<bool> RecordReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < std::min(kBlockBytes, buf_.size()) / 2) buf_.resize(buf_.size() * 2);
  ENCORE_ASSIGN_OR_RETURN(size_t n, source_->Read(buf_.data() + end_, buf_.size() - end_));
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  if (!started_) {
    // The byte order mark may straddle a short first read.
    while (end_ < 3 && !eof_) {
      ENCORE_ASSIGN_OR_RETURN(size_t more, source_->Read(buf_.data() + end_, buf_.size() - end_));
      if (more == 0) eof_ = true;
      end_ += more;
    }
    started_ = true;
    if (end_ >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) {
      begin_ = 3;
      consumed_ += 3;
    }
  }
  return true;
}

void RecordReader::SplitSimple(const char* p, size_t n, Record* record) {
  size_t start = 0;
  while (true) {
    const void* hit = std::memchr(p + start, sep_, n - start);
    size_t stop = hit ? static_cast<size_t>(static_cast<const char*>(hit) - p) : n;
    record->fields.push_back(Field{std::string_view(p + start, stop - start),
                                   static_cast<uint32_t>(start), static_cast<uint32_t>(stop)});
    if (hit == nullptr) break;
    start = stop + 1;
  }
}

size_t RecordReader::ParseQuoted(Record* record, size_t* terminator_len, bool* unterminated) {
  const char* base = buf_.data() + begin_;
  const size_t avail = end_ - begin_;
  scratch_.clear();
  scratch_.reserve(avail);  // unescaped text never exceeds the raw bytes: views stay valid
  record->fields.clear();
  *terminator_len = 0;
  auto push = [&](std::string_view v, size_t b, size_t e) {
    record->fields.push_back(Field{v, static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
  };
  // Ends the record at `i` (a '\n', a '\r' before '\n', or the end of input).
  auto finish = [&](size_t i) -> size_t {
    if (i >= avail) return avail;
    if (base[i] == '\r') {
      *terminator_len = 2;
    } else {
      *terminator_len = 1;
    }
    return i;
  };
  size_t i = 0;
  while (true) {
    const size_t field_start = i;
    if (i < avail && base[i] == '"') {
      const size_t value_start = scratch_.size();
      ++i;
      while (true) {
        const void* q = i < avail ? std::memchr(base + i, '"', avail - i) : nullptr;
        if (q == nullptr) {
          if (NeedMore()) return kNeedMore;
          *unterminated = true;
          return 0;
        }
        size_t qi = static_cast<size_t>(static_cast<const char*>(q) - base);
        scratch_.append(base + i, qi - i);
        if (qi + 1 >= avail && NeedMore()) return kNeedMore;  // a doubled quote may follow
        if (qi + 1 < avail && base[qi + 1] == '"') {
          scratch_ += '"';
          i = qi + 2;
          continue;
        }
        i = qi + 1;
        break;
      }
      std::string_view value(scratch_.data() + value_start, scratch_.size() - value_start);
      if (i >= avail) {
        if (NeedMore()) return kNeedMore;
        push(value, field_start, i);
        return finish(i);
      }
      char c = base[i];
      if (c == sep_) {
        push(value, field_start, i);
        ++i;
        continue;
      }
      if (c == '\n') {
        push(value, field_start, i);
        return finish(i);
      }
      if (c == '\r') {
        if (i + 1 >= avail && NeedMore()) return kNeedMore;
        if (i + 1 >= avail || base[i + 1] == '\n') {
          push(value, field_start, i);
          if (i + 1 >= avail) {
            *terminator_len = 1;
            return i;
          }
          return finish(i);
        }
      }
      // Text after a closing quote: the record is malformed; it ends at the next newline.
      record->error = Record::Error::kTextAfterQuote;
      const void* nl = std::memchr(base + i, '\n', avail - i);
      if (nl == nullptr) {
        if (NeedMore()) return kNeedMore;
        return avail;
      }
      size_t ni = static_cast<size_t>(static_cast<const char*>(nl) - base);
      if (ni > 0 && base[ni - 1] == '\r') return finish(ni - 1);
      return finish(ni);
    }
    // Unquoted field: up to the separator or the end of the line.
    size_t j = i;
    while (j < avail && base[j] != sep_ && base[j] != '\n') ++j;
    if (j >= avail) {
      if (NeedMore()) return kNeedMore;
      size_t e = avail;
      if (e > i && base[e - 1] == '\r') --e;
      push(std::string_view(base + i, e - i), field_start, e);
      return e;  // end of input: no terminator (a trailing '\r' is dropped)
    }
    if (base[j] == sep_) {
      push(std::string_view(base + i, j - i), field_start, j);
      i = j + 1;
      continue;
    }
    size_t e = j;
    if (e > i && base[e - 1] == '\r') --e;
    push(std::string_view(base + i, e - i), field_start, e);
    return finish(e);
  }
}

Result<bool> RecordReader::Next(Record* record) {
  record->fields.clear();
  record->error = Record::Error::kNone;
  if (begin_ == end_) {
    ENCORE_ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return false;
  }
  while (true) {
    const char* base = buf_.data() + begin_;
    const size_t avail = end_ - begin_;
    if (avail == 0) return false;
    const void* nl_hit = std::memchr(base, '\n', avail);
    if (nl_hit == nullptr && !eof_) {
      if (avail > kMaxLineBytes) {
        return Status::ParseError(source_->path() + ":" + std::to_string(line_) +
                                  ": line is longer than " +
                                  std::to_string(kMaxLineBytes >> 20) +
                                  " MiB; check --format and --sep");
      }
      ENCORE_RETURN_IF_ERROR(Fill().status());
      continue;
    }
    const size_t line_len =
        nl_hit ? static_cast<size_t>(static_cast<const char*>(nl_hit) - base) : avail;
    const size_t line_advance = line_len + (nl_hit ? 1 : 0);
    const size_t line_stripped =
        line_len > 0 && base[line_len - 1] == '\r' ? line_len - 1 : line_len;

    if (mode_ == Mode::kLines || std::memchr(base, '"', line_len) == nullptr) {
      record->raw = std::string_view(base, line_stripped);
      record->line = line_++;
      if (mode_ == Mode::kDelimited) SplitSimple(base, line_stripped, record);
      begin_ += line_advance;
      consumed_ += line_advance;
      return true;
    }

    size_t terminator = 0;
    bool unterminated = false;
    size_t len = ParseQuoted(record, &terminator, &unterminated);
    if (len == kNeedMore) {
      if (avail <= kMaxQuotedRecordBytes) {
        ENCORE_RETURN_IF_ERROR(Fill().status());
        continue;
      }
      unterminated = true;
      quoted_too_long_ = true;
    }
    if (unterminated) {
      record->fields.clear();
      record->error = Record::Error::kUnterminatedQuote;
      record->raw = std::string_view(base, line_stripped);
      record->line = line_++;
      begin_ += line_advance;
      consumed_ += line_advance;
      return true;
    }
    record->raw = std::string_view(base, len);
    record->line = line_;
    line_ += 1 + static_cast<uint64_t>(std::count(base, base + len, '\n'));
    begin_ += len + terminator;
    consumed_ += len + terminator;
    return true;
  }
}

}  // namespace encore::io
