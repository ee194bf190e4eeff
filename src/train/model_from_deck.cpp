#include "train/model_from_deck.hpp"

#include "core/error.hpp"
#include "model/weights_io.hpp"
#include "train/deck_settings.hpp"

namespace kmoe {

template <class T>
std::unique_ptr<MoeTransformer<T>> make_model(const RunDeck& deck) {
  auto model = std::make_unique<MoeTransformer<T>>(model_config_from_deck(deck), static_cast<uint64_t>(deck.run.seed));
  if (!deck.model.init_weights.empty()) {
    try {
      load_weights(model->params(), deck.model.init_weights);
    } catch (const Error& err) {
      throw err.with_context(deck.source + ": model.init_weights");
    }
  }
  return model;
}

template std::unique_ptr<MoeTransformer<float>> make_model<float>(const RunDeck&);
template std::unique_ptr<MoeTransformer<double>> make_model<double>(const RunDeck&);

}  // namespace kmoe
