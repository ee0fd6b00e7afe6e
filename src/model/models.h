// Factories of the built-in models, one per model file; the registry
// (registry.cc) maps names to them. Adding a model: implement Recommender in
// src/model/<name>.cc, declare its factory here, add it to the registry, and
// the shared contract test covers it automatically.

#ifndef ENCORE_MODEL_MODELS_H_
#define ENCORE_MODEL_MODELS_H_

#include <memory>

#include "encore/recommender.h"

namespace encore::model {

std::unique_ptr<Recommender> NewPopularity(const ModelParams& params);
std::unique_ptr<Recommender> NewCooccurrence(const ModelParams& params);
std::unique_ptr<Recommender> NewAls(const ModelParams& params);
std::unique_ptr<Recommender> NewIals(const ModelParams& params);
std::unique_ptr<Recommender> NewEase(const ModelParams& params);
std::unique_ptr<Recommender> NewBpr(const ModelParams& params);

}  // namespace encore::model

#endif  // ENCORE_MODEL_MODELS_H_
