// The model registry: names to factories. The only file that knows every
// concrete model; the Recommender base (recommender.cc) knows none.

#include "encore/recommender.h"
#include "model/models.h"

namespace encore {

namespace {

struct Registration {
  const char* name;
  std::unique_ptr<Recommender> (*create)(const ModelParams&);
};

// Sorted by name.
const Registration kModels[] = {
    {"als", model::NewAls},
    {"bpr", model::NewBpr},
    {"cooccurrence", model::NewCooccurrence},
    {"ease", model::NewEase},
    {"ials", model::NewIals},
    {"popularity", model::NewPopularity},
    {"svdpp", model::NewSvdPlusPlus},
};

}  // namespace

Result<std::unique_ptr<Recommender>> CreateRecommender(const std::string& kind,
                                                       const ModelParams& params) {
  ENCORE_RETURN_IF_ERROR(params.Validate());
  for (const auto& r : kModels) {
    if (kind == r.name) return r.create(params);
  }
  std::string known;
  for (const auto& r : kModels) known += std::string(known.empty() ? "" : ", ") + r.name;
  return Status::InvalidArgument("unknown model '" + kind + "'; known models: " + known);
}

std::vector<std::string> RecommenderKinds() {
  std::vector<std::string> out;
  for (const auto& r : kModels) out.emplace_back(r.name);
  return out;
}

}  // namespace encore
