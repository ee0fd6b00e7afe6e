#include "encore/batch.h"

#include <fstream>

#include "encore/rank.h"
#include "rank/ranked_writer.h"

namespace encore {

namespace {

constexpr size_t kBlock = 4096;

// Resolves ids to indices; unknown ids are counted in `report`.
std::vector<uint32_t> Resolve(const IdDictionary& dict, const std::vector<std::string>& ids,
                              BatchReport* report) {
  std::vector<uint32_t> out;
  if (ids.empty()) {
    out.resize(dict.size());
    for (uint32_t i = 0; i < dict.size(); ++i) out[i] = i;
    report->requested = dict.size();
    return out;
  }
  report->requested = ids.size();
  for (const auto& id : ids) {
    auto idx = dict.Find(id);
    if (idx) {
      out.push_back(*idx);
    } else {
      ++report->unknown;
      if (report->first_unknown.size() < 10) report->first_unknown.push_back(id);
    }
  }
  return out;
}

Status WriteLists(const IdDictionary& keys, const IdDictionary& items,
                  const std::vector<uint32_t>& block,
                  const std::vector<std::vector<ScoredItem>>& lists, rank::RankedWriter* writer,
                  BatchReport* report) {
  for (size_t k = 0; k < block.size(); ++k) {
    const auto& list = lists[k];
    if (list.empty()) {
      ++report->empty;
      continue;
    }
    ++report->answered;
    ENCORE_RETURN_IF_ERROR(writer->Write(keys.Name(block[k]), list, items));
  }
  return Status::OK();
}

}  // namespace

Result<BatchReport> WriteRecommendations(const TrainedModel& model,
                                         const std::vector<std::string>& user_ids,
                                         const QueryOptions& options, const std::string& out_path,
                                         Progress* progress, const AnnIndex* index) {
  BatchReport report;
  std::vector<uint32_t> users = Resolve(model.users, user_ids, &report);
  ENCORE_ASSIGN_OR_RETURN(auto writer, rank::RankedWriter::Open(out_path, "user", "item"));
  if (progress) progress->StartCount("recommending", users.size(), "users");
  Ranker ranker(*model.model);
  ranker.UseIndex(index);
  std::vector<std::vector<ScoredItem>> lists;
  for (size_t start = 0; start < users.size(); start += kBlock) {
    std::vector<uint32_t> block(users.begin() + start,
                                users.begin() + std::min(users.size(), start + kBlock));
    ranker.RankUsers(block, options, &lists);
    ENCORE_RETURN_IF_ERROR(
        WriteLists(model.users, model.items, block, lists, writer.get(), &report));
    if (progress) progress->Update(0, start + block.size());
  }
  ENCORE_RETURN_IF_ERROR(writer->Close());
  if (progress) progress->Finish();
  report.rows = writer->rows();
  return report;
}

Result<BatchReport> WriteSimilarItems(const TrainedModel& model,
                                      const std::vector<std::string>& item_ids, uint32_t n,
                                      const std::string& out_path, Progress* progress,
                                      const AnnIndex* index) {
  BatchReport report;
  std::vector<uint32_t> items = Resolve(model.items, item_ids, &report);
  ENCORE_ASSIGN_OR_RETURN(auto writer, rank::RankedWriter::Open(out_path, "item", "similar_item"));
  if (progress) progress->StartCount("similar items", items.size(), "items");
  Ranker ranker(*model.model);
  ranker.UseIndex(index, /*approximate_similar=*/index != nullptr);
  std::vector<std::vector<ScoredItem>> lists;
  for (size_t start = 0; start < items.size(); start += kBlock) {
    std::vector<uint32_t> block(items.begin() + start,
                                items.begin() + std::min(items.size(), start + kBlock));
    ENCORE_RETURN_IF_ERROR(ranker.RankSimilarItems(block, n, &lists));
    ENCORE_RETURN_IF_ERROR(
        WriteLists(model.items, model.items, block, lists, writer.get(), &report));
    if (progress) progress->Update(0, start + block.size());
  }
  ENCORE_RETURN_IF_ERROR(writer->Close());
  if (progress) progress->Finish();
  report.rows = writer->rows();
  return report;
}

Result<std::vector<std::string>> ReadIdList(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open id list '" + path + "'");
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) ids.push_back(line);
  }
  if (ids.empty()) return Status::InvalidArgument("id list '" + path + "' is empty");
  return ids;
}

}  // namespace encore
