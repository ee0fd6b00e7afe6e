// Explanations: "why was this item recommended?"
//
// An Explanation splits the score a model gives `item` for a user (or a
// visitor described by items) into the share of each item of their history,
// plus a base the history does not explain:
//
//   score = base + sum over history items h of contribution(h)
//
// exactly (up to float rounding: a test checks the sum). What the parts are
// depends on the model (docs/MODELS.md, "Explanations"):
//
//  - ials, als, bpr (factor models): the history's user factors are the
//    solution of a linear system x = W^-1 sum_h t_h a_h (the fold-in step:
//    ials's confidence-weighted Gram matrix Y'Y + reg I + sum (c_h - 1)
//    y_h y_h', as the `implicit` library explains iALS; als's ridge system;
//    bpr's ridge projection), so the score y_i . x splits into
//    contribution(h) = t_h * y_i' W^-1 a_h. The score explained is the
//    fold-in score of the history; for a trained user it is close to the
//    served score (their factors were solved before the last item sweep,
//    by CG for ials), and for bpr, whose users are learned by SGD and not a function of their
//    items, it is the score of the user's items folded in (model_score then
//    shows the trained user's own score). base: als's global mean and item
//    bias, bpr's item bias; 0 for ials. als with nonnegative=true is
//    explained by the unconstrained solve (approximate: exact = false).
//  - cooccurrence: with aggregate=sum, contribution(h) = weight(h) *
//    similarity(h -> item); with aggregate=max, the history item with the
//    largest similarity gets the whole score and the others 0. Every item of
//    the history that co-occurs with `item` is listed with `together`, the
//    number of users holding both (the weighted sum with half_life_days).
//  - popularity: base = the item's count of users; no history item
//    contributes.
//  - other models: FailedPrecondition.
//
// Thread-safety: the functions are const on the model; call them
// concurrently like any other query.

#ifndef ENCORE_EXPLAIN_H_
#define ENCORE_EXPLAIN_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "encore/recommender.h"
#include "encore/status.h"

namespace encore {

// One history item's share of a score.
struct ItemContribution {
  uint32_t item = 0;        // the history item (model index)
  float weight = 0;         // its value in the history (count, rating...)
  double contribution = 0;  // its share of the score
  // cooccurrence: users holding both this item and the explained one (the
  // summed weights with half_life_days), and score(this -> explained);
  // 0 for other models.
  double together = 0;
  double similarity = 0;
};

struct Explanation {
  uint32_t item = 0;  // the explained item
  // base + sum of contributions: the score the decomposition explains.
  double score = 0;
  double base = 0;  // the part no history item explains
  // Every history item, largest |contribution| first (ties: smaller index).
  std::vector<ItemContribution> items;
  // The score the model serves for this user (ScoreItems) or visitor
  // (ScoreFoldIn); equal to `score` up to float rounding unless noted above.
  double model_score = 0;
  // False when the decomposition is an approximation of the model's own
  // computation (als with nonnegative=true).
  bool exact = true;
  std::string method;  // one line saying how the score was decomposed
};

// Explains `item` for trained user `user` (their training items are the
// history). InvalidArgument for an out-of-range user or item;
// FailedPrecondition for a model without explanations or a user with no
// history.
Result<Explanation> ExplainUser(const Recommender& model, uint32_t user, uint32_t item);

// Explains `item` for a visitor who interacted with `history` (fold-in).
// Unknown item indices are InvalidArgument.
Result<Explanation> ExplainItems(const Recommender& model, std::span<const ItemWeight> history,
                                 uint32_t item);

}  // namespace encore

#endif  // ENCORE_EXPLAIN_H_
