// encore explain: why a model scores an item for a user (encore/explain.h).

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/explain.h"
#include "encore/recommender.h"
#include "rank/encode.h"
#include "util/json_writer.h"

namespace encore::cli {

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string piece;
  while (std::getline(in, piece, ',')) {
    if (!piece.empty()) out.push_back(piece);
  }
  return out;
}

}  // namespace

Command RegisterExplain(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "explain", "Why an item is recommended: each history item's share of its score");
  struct Flags {
    std::string model_file, user, items, item;
    uint32_t top = 0;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model-file", f->model_file, "Model written by encore train")->required();
  app->add_option("--user", f->user, "A trained user (the model file keeps their items)");
  app->add_option("--items", f->items,
                  "Instead of --user: a visitor's items, comma-separated (fold-in)");
  app->add_option("--item", f->item, "The item to explain")->required();
  app->add_option("--top", f->top, "Print only the largest contributions (0 = all)")
      ->capture_default_str();
  app->add_flag("--json", f->json, "Print one JSON object instead of text");
  return {
      app, [f] {
        if (f->user.empty() == f->items.empty()) {
          return PrintError(
              Status::InvalidArgument("explain: give exactly one of --user and --items"));
        }
        auto model = LoadModel(f->model_file);
        if (!model.ok()) return PrintError(model.status());
        const std::optional<uint32_t> item = model->items.Find(f->item);
        if (!item) {
          return PrintError(Status::NotFound("explain: unknown item '" + f->item + "' (not in " +
                                             f->model_file + ")"));
        }
        std::optional<Result<Explanation>> result;
        if (!f->user.empty()) {
          const std::optional<uint32_t> user = model->users.Find(f->user);
          if (!user) {
            return PrintError(Status::NotFound("explain: unknown user '" + f->user + "' (not in " +
                                               f->model_file + "); use --items for a new visitor"));
          }
          result = ExplainUser(*model->model, *user, *item);
        } else {
          std::vector<ItemWeight> history;
          for (const std::string& id : SplitComma(f->items)) {
            const std::optional<uint32_t> idx = model->items.Find(id);
            if (!idx) {
              return PrintError(Status::NotFound("explain: unknown item '" + id + "' in --items"));
            }
            history.push_back({*idx, 1.0f});
          }
          result = ExplainItems(*model->model, history, *item);
        }
        Result<Explanation>& e = *result;
        if (!e.ok()) return PrintError(e.status());
        size_t shown = e->items.size();
        if (f->top > 0 && f->top < shown) shown = f->top;
        if (f->json) {
          JsonWriter w(2);
          w.BeginObject();
          if (!f->user.empty()) {
            w.Key("user");
            w.String(f->user);
          }
          w.Key("item");
          w.String(f->item);
          rank::AppendExplanationMembers(*e, *model, shown, &w);
          w.EndObject();
          std::printf("%s\n", w.str().c_str());
        } else {
          std::printf("%s score of %s: %.6g = base %.6g + %zu contributions\n",
                      model->model->kind(), f->item.c_str(), e->score, e->base, e->items.size());
          std::printf("served score: %.6g%s\n", e->model_score,
                      e->exact ? "" : " (the decomposition is approximate)");
          std::printf("method: %s\n", e->method.c_str());
          std::printf("item,weight,contribution%s\n",
                      std::string_view(model->model->kind()) == "cooccurrence"
                          ? ",together,similarity"
                          : "");
          for (size_t k = 0; k < shown; ++k) {
            const ItemContribution& c = e->items[k];
            std::printf("%.*s,%g,%.6g", static_cast<int>(model->items.Name(c.item).size()),
                        model->items.Name(c.item).data(), c.weight, c.contribution);
            if (std::string_view(model->model->kind()) == "cooccurrence") {
              std::printf(",%g,%.6g", c.together, c.similarity);
            }
            std::printf("\n");
          }
        }
        return kExitOk;
      }};
}

}  // namespace encore::cli
