// Train-and-save and recommend-to-outputs (encore/workflow.h).

#include "encore/workflow.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "encore/store.h"
#include "io/output_file.h"

namespace encore {

Result<TrainedModel> TrainAndSave(const std::string& kind, const ModelParams& params,
                                  const Dataset& data, const std::string& path,
                                  TrainReport* report, Progress* progress) {
  TrainReport local;
  if (report == nullptr) report = &local;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(kind, params));
  io::OutputFileOptions out_options;
  out_options.what = "model file";
  out_options.gzip_by_extension = false;
  // A bad path fails now, not after the fit.
  if (!path.empty()) ENCORE_RETURN_IF_ERROR(io::CheckOutputPath(path, out_options).status());
  const auto start = std::chrono::steady_clock::now();
  bool iterated = false;
  std::vector<float> previous;  // the sampled item rows at the last iteration
  if (progress != nullptr && !progress->quiet()) {
    progress->StartCount("fit " + kind, params.iterations, "iterations");
    const Recommender* m = model.get();
    const uint32_t items = data.by_user.cols;
    model->set_fit_callback([&, m, items](uint32_t done, uint32_t total) {
      iterated = true;
      std::optional<FactorView> f = m->Factors();
      if (f && f->items != nullptr && f->factors > 0 && items > 0) {
        const uint32_t stride = std::max<uint32_t>(1, items / 4096);
        std::vector<float> now;
        for (uint32_t i = 0; i < items; i += stride) {
          now.insert(now.end(), f->items + size_t(i) * f->factors,
                     f->items + size_t(i + 1) * f->factors);
        }
        if (previous.size() == now.size()) {
          double diff = 0, norm = 0;
          for (size_t j = 0; j < now.size(); ++j) {
            diff += double(now[j] - previous[j]) * (now[j] - previous[j]);
            norm += double(now[j]) * now[j];
          }
          char text[64];
          std::snprintf(text, sizeof text, "item factors changed %.3g%%",
                        norm > 0 ? 100 * std::sqrt(diff / norm) : 0.0);
          progress->SetDetail(text);
        }
        previous = std::move(now);
      }
      if (done == 1 || done == total) {
        progress->UpdateNow(0, done);
      } else {
        progress->Update(0, done);
      }
    });
  }
  Status fit = model->Fit(data);
  model->set_fit_callback(nullptr);
  ENCORE_RETURN_IF_ERROR(fit);
  if (iterated) progress->Finish();
  report->fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  TrainedModel trained{std::move(model), data.users.Clone(), data.items.Clone()};
  if (!path.empty()) {
    // Streamed; the size is counted whatever the path is (a pipe too).
    ENCORE_RETURN_IF_ERROR(SaveModel(trained, path, &report->file_bytes));
    report->file = path;
  }
  return trained;
}

namespace {

Result<std::vector<uint32_t>> ReadItemList(const TrainedModel& model, const std::string& path) {
  ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> ids, ReadIdList(path));
  std::vector<uint32_t> out;
  for (const auto& id : ids) {
    if (auto idx = model.items.Find(id)) out.push_back(*idx);
  }
  return out;
}

}  // namespace

Result<ResolvedRequest> ResolveRecommendRequest(const TrainedModel& model,
                                                const RecommendRequest& request) {
  ResolvedRequest r;
  const bool similar = request.kind == RecommendKind::kSimilar;
  r.query.n =
      request.n > 0 ? request.n : DefaultListLength(model.model->params(), model.model->kind());
  r.query.exclude_seen = request.exclude_seen;
  if (!similar) {
    if (!request.allow_file.empty()) {
      ENCORE_ASSIGN_OR_RETURN(r.query.allow, ReadItemList(model, request.allow_file));
      if (r.query.allow.empty()) {
        return Status::InvalidArgument("allow list '" + request.allow_file +
                                       "' names no item known to the model");
      }
    }
    if (!request.deny_file.empty()) {
      ENCORE_ASSIGN_OR_RETURN(r.query.deny, ReadItemList(model, request.deny_file));
    }
  }
  if (!request.ids_file.empty()) {
    ENCORE_ASSIGN_OR_RETURN(r.id_names, ReadIdList(request.ids_file));
    const IdDictionary& dict = similar ? model.items : model.users;
    std::vector<uint32_t> ids;
    for (const auto& id : r.id_names) {
      if (auto idx = dict.Find(id)) {
        ids.push_back(*idx);
      } else {
        ++r.unknown;
        if (r.first_unknown.size() < 10) r.first_unknown.push_back(id);
      }
    }
    r.ids = std::move(ids);
  }
  if (similar && model.items.size() > 0) {
    // Fails early for models without a notion of similarity.
    std::vector<ScoredItem> probe;
    ENCORE_RETURN_IF_ERROR(model.model->SimilarItems(0, 1, &probe));
  }
  return r;
}

Result<BatchReport> RecommendToFile(const TrainedModel& model, const RecommendRequest& request,
                                    const std::string& out_path, Progress* progress) {
  ENCORE_ASSIGN_OR_RETURN(ResolvedRequest r, ResolveRecommendRequest(model, request));
  if (request.kind == RecommendKind::kSimilar) {
    return WriteSimilarItems(model, r.id_names, r.query.n, out_path, progress);
  }
  return WriteRecommendations(model, r.id_names, r.query, out_path, progress);
}

Result<PublishReport> PublishModel(const TrainedModel& model, PublishOptions options, Store* store,
                                   Progress* progress) {
  if (options.n == 0) {
    const uint32_t model_n = model.model->params().n;
    options.n = model_n > 0 ? model_n : PublishOptions{}.n;
  }
  return Publish(model, options, store, progress);
}

Result<PublishReport> PublishToStore(const TrainedModel& model, const PublishOptions& options,
                                     const std::string& store_uri, Progress* progress) {
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(store_uri));
  return PublishModel(model, options, store.get(), progress);
}

}  // namespace encore
