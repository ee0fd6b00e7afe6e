#include "rank/encode.h"

#include <algorithm>
#include <cmath>

#include "util/json_writer.h"

namespace encore::rank {

Status AppendScore(float score, std::string* out) {
  if (JsonWriter::AppendFloat(score, out)) return Status::OK();
  return Status::Internal("a ranked list holds a non-finite score (" + std::to_string(score) +
                          "); the ranker drops these, so this is a bug: please report it");
}

void AppendCsvField(std::string_view v, std::string* out, char delimiter) {
  const char special[] = {delimiter, '"', '\r', '\n'};
  if (v.find_first_of(std::string_view(special, 4)) == std::string_view::npos) {
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

std::string RowEncoder::Header() const {
  if (format_ == RowFormat::kJsonLines) return "";
  std::string h;
  AppendCsvField(key_name_, &h);
  h.push_back(',');
  AppendCsvField(item_name_, &h);
  h.append(",score,rank\n");
  return h;
}

Status RowEncoder::AppendList(std::string_view key, std::span<const ScoredItem> list,
                              const IdDictionary& items, std::string* out) const {
  for (size_t r = 0; r < list.size(); ++r) {
    const std::string_view item = items.Name(list[r].item);
    if (format_ == RowFormat::kJsonLines) {
      out->push_back('{');
      JsonWriter::AppendQuoted(key_name_, out);
      out->push_back(':');
      JsonWriter::AppendQuoted(key, out);
      out->push_back(',');
      JsonWriter::AppendQuoted(item_name_, out);
      out->push_back(':');
      JsonWriter::AppendQuoted(item, out);
      out->append(",\"score\":");
      ENCORE_RETURN_IF_ERROR(AppendScore(list[r].score, out));
      out->append(",\"rank\":").append(std::to_string(r + 1)).append("}\n");
    } else {
      AppendCsvField(key, out);
      out->push_back(',');
      AppendCsvField(item, out);
      out->push_back(',');
      ENCORE_RETURN_IF_ERROR(AppendScore(list[r].score, out));
      out->push_back(',');
      out->append(std::to_string(r + 1)).push_back('\n');
    }
  }
  return Status::OK();
}

Status AppendItemArray(std::span<const ScoredItem> list, const IdDictionary& items,
                       std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append("{\"item\":");
    JsonWriter::AppendQuoted(items.Name(list[i].item), out);
    out->append(",\"score\":");
    ENCORE_RETURN_IF_ERROR(AppendScore(list[i].score, out));
    out->push_back('}');
  }
  out->push_back(']');
  return Status::OK();
}

Status EncodePayload(std::string_view key_name, std::string_view id, uint64_t version,
                     std::string_view list_name, std::span<const ScoredItem> list,
                     const IdDictionary& items, std::string* out) {
  out->clear();
  out->push_back('{');
  JsonWriter::AppendQuoted(key_name, out);
  out->push_back(':');
  JsonWriter::AppendQuoted(id, out);
  out->append(",\"snapshot\":").append(std::to_string(version)).push_back(',');
  JsonWriter::AppendQuoted(list_name, out);
  out->push_back(':');
  ENCORE_RETURN_IF_ERROR(AppendItemArray(list, items, out));
  out->push_back('}');
  return Status::OK();
}

namespace {

void FiniteOrNull(double v, JsonWriter* w) {
  if (std::isfinite(v)) {
    w->Double(v);
  } else {
    w->Null();
  }
}

}  // namespace

void AppendExplanationMembers(const Explanation& e, const TrainedModel& model, size_t max_items,
                              JsonWriter* w) {
  const bool cooccurrence = std::string_view(model.model->kind()) == "cooccurrence";
  w->Key("model");
  w->String(model.model->kind());
  w->Key("score");
  FiniteOrNull(e.score, w);
  w->Key("model_score");
  FiniteOrNull(e.model_score, w);
  w->Key("base");
  FiniteOrNull(e.base, w);
  w->Key("exact");
  w->Bool(e.exact);
  w->Key("method");
  w->String(e.method);
  w->Key("contributions");
  w->BeginArray();
  const size_t shown = std::min(e.items.size(), max_items);
  for (size_t k = 0; k < shown; ++k) {
    const ItemContribution& c = e.items[k];
    w->BeginObject();
    w->Key("item");
    w->String(model.items.Name(c.item));
    w->Key("weight");
    FiniteOrNull(c.weight, w);
    w->Key("contribution");
    FiniteOrNull(c.contribution, w);
    if (cooccurrence) {
      w->Key("together");
      FiniteOrNull(c.together, w);
      w->Key("similarity");
      FiniteOrNull(c.similarity, w);
    }
    w->EndObject();
  }
  w->EndArray();
}

}  // namespace encore::rank
