#include "train/model_from_deck.hpp"

#include "core/error.hpp"
#include "kernels/hash_routing.hpp"
#include "model/weights_io.hpp"
#include "train/deck_settings.hpp"

namespace kmoe {

template <class T>
std::unique_ptr<MoeTransformer<T>> make_model(const RunDeck& deck, const TokenShard* train_split) {
  const ModelConfig config = model_config_from_deck(deck);
  auto model = std::make_unique<MoeTransformer<T>>(config, static_cast<uint64_t>(deck.run.seed));
  if (config.moe && config.routing() == kernels::Routing::hash) {
    if (config.balanced_hash_table) {
      require(train_split != nullptr, "moe.hash_table = \"balanced\" needs the training split's token counts");
      model->set_hash_table(kernels::balanced_hash_table(count_tokens(*train_split, config.vocab_size),
                                                         config.num_experts, config.top_k,
                                                         static_cast<uint64_t>(deck.run.seed)));
    } else {
      model->set_hash_table(kernels::random_hash_table(config.vocab_size, config.num_experts, config.top_k,
                                                       static_cast<uint64_t>(deck.run.seed)));
    }
  }
  if (!deck.model.init_weights.empty()) {
    try {
      load_weights(model->params(), deck.model.init_weights);
    } catch (const Error& err) {
      throw err.with_context(deck.source + ": model.init_weights");
    }
  }
  return model;
}

template std::unique_ptr<MoeTransformer<float>> make_model<float>(const RunDeck&, const TokenShard*);
template std::unique_ptr<MoeTransformer<double>> make_model<double>(const RunDeck&, const TokenShard*);

}  // namespace kmoe
