// Encoding ranked lists: the one place a ranked list becomes bytes, for
// every output - CSV and JSON Lines files (`encore recommend`, `encore
// similar`), pipeline rows, store payloads (publish) and the HTTP fold-in
// response.
//
//   CSV         key,item,score,rank      fields quoted per RFC 4180 when they
//                                         hold a comma, quote, CR or LF
//   JSON Lines  {"<key>":K,"<item>":I,"score":S,"rank":R}
//   item array  [{"item":I,"score":S},...]   (payloads and HTTP bodies)
//   payload     {"<key>":K,"snapshot":V,"<list>":[...]}
//
// Ids are arbitrary bytes: JSON strings are escaped by JsonWriter::
// AppendQuoted (invalid UTF-8 becomes U+FFFD); CSV fields are written as
// they are. Scores use the shortest text that reads back as the same float.
// Ranks are 1-based.
//
// Non-finite scores: the ranker drops them (encore/rank.h, step d), so an
// encoder never sees one from a ranked list. If one arrives anyway every
// function here returns Internal - never a 0, "inf" or an abort - and the
// caller fails the request, file or snapshot. Output appended before the
// error is unspecified.
//
// Thread-safety: reentrant.

#ifndef ENCORE_RANK_ENCODE_H_
#define ENCORE_RANK_ENCODE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "encore/explain.h"
#include "encore/ids.h"
#include "encore/recommender.h"

namespace encore {
class JsonWriter;
}  // namespace encore

namespace encore::rank {

// The members of an explanation (`encore explain --json`, GET
// /v1/users/{id}/explain), written into the object `w` has open: model,
// score, model_score, base, exact, method, and contributions (the first
// `max_items`, each item, weight, contribution, and for cooccurrence together
// and similarity). A score that is not finite is written as null, never as a
// number. `model` names the items and the kind.
void AppendExplanationMembers(const Explanation& e, const TrainedModel& model, size_t max_items,
                              JsonWriter* w);

// The score as text (shortest round trip); Internal when not finite.
Status AppendScore(float score, std::string* out);

// One CSV field, quoted per RFC 4180 when it holds the delimiter, a double
// quote, CR or LF (embedded quotes doubled). Pipeline file outputs use it
// with their own delimiter.
void AppendCsvField(std::string_view v, std::string* out, char delimiter = ',');

enum class RowFormat { kCsv, kJsonLines };

// Rows of ranked lists for files: `key_name` and `item_name` name the
// first two columns ("user","item" or "item","similar_item").
class RowEncoder {
 public:
  RowEncoder(RowFormat format, std::string key_name, std::string item_name)
      : format_(format), key_name_(std::move(key_name)), item_name_(std::move(item_name)) {}

  // The header line (CSV) or nothing (JSON Lines).
  std::string Header() const;
  // One row a list entry, rank = position + 1.
  Status AppendList(std::string_view key, std::span<const ScoredItem> list,
                    const IdDictionary& items, std::string* out) const;

 private:
  RowFormat format_;
  std::string key_name_, item_name_;
};

// [{"item":I,"score":S},...]
Status AppendItemArray(std::span<const ScoredItem> list, const IdDictionary& items,
                       std::string* out);

// Replaces *out with {"<key_name>":"ID","snapshot":V,"<list_name>":[...]}.
Status EncodePayload(std::string_view key_name, std::string_view id, uint64_t version,
                     std::string_view list_name, std::span<const ScoredItem> list,
                     const IdDictionary& items, std::string* out);

}  // namespace encore::rank

#endif  // ENCORE_RANK_ENCODE_H_
