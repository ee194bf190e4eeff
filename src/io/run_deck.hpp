// The run deck: everything one training run needs, typed and validated.
// Defaults reproduce the research configuration (blueberry-llm llm.py) except where the
// research had bugs; `kmoe-deck schema` prints every key with its default and allowed values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

struct RunSection {
  std::string name = "kmoe-run";
  int64_t seed = 42;
  std::string output_dir = "runs";
};

struct ModelSection {
  int64_t vocab_size = 8192;
  int64_t d_model = 384;
  int64_t n_layers = 6;
  int64_t n_heads = 8;
  int64_t seq_len = 512;
  std::string ffn = "moe";  // moe | dense
  int64_t d_ff = 1536;      // width of the dense FFN (ffn = "dense")
  bool weight_sharing = false;
  double dropout = 0.1;
  double norm_eps = 1.1920929e-07;
  double rope_base = 10000.0;
  double init_std = 0.02;
  std::string init_weights;  // HDF5 weights file to start from (optional)
};

struct MoeSection {
  int64_t num_experts = 8;
  int64_t top_k = 2;
  std::string routing = "token_choice";             // "token_choice" | "expert_choice" | "hash" | "random" | "sinkhorn"
  std::string expert_choice_group = "micro_batch";  // "micro_batch" | "sequence"
  std::string hash_table = "random";                // "random" | "balanced"
  std::string score = "softmax";                    // "softmax" | "sigmoid"
  std::string gate_norm = "selected";               // "selected" | "none"
  double route_scale = 1.0;
  int64_t groups = 1;                // group-limited routing: experts in contiguous groups
  int64_t group_topk = 1;            // groups eligible per token
  std::string group_score = "max";   // "max" | "topk_sum"
  int64_t shared_experts = 0;        // always-on experts added to the routed output
  int64_t shared_expert_d_ff = 0;    // 0 = expert_d_ff
  std::string shared_gate = "none";  // "none" | "sigmoid" | "convex"
  int64_t expert_d_ff = 1536;
  double capacity_factor = 0.0;          // 0 = dropless
  std::string drop_policy = "position";  // "position" | "probability"
  bool renorm_after_drop = false;
  double noise_std = 0.1;
  double load_balancing_weight = 0.01;                // schedule start value
  double load_balancing_weight_end = 0.01;            // defaults to the start value
  std::string load_balancing_fractions = "per_pick";  // "per_pick" | "per_token" | "first_choice"
  std::string load_balancing_layers = "sum";          // "sum" | "mean" | "pooled"
  std::string load_balancing_scope = "micro_batch";   // "micro_batch" | "sequence" | "global_batch"
  double lb_warmup_frac = 0.0;
  double lb_decay_end_frac = 0.0;
  double z_loss_weight = 0.0;
  bool aux_free_bias = false;
  double aux_free_bias_rate = 0.001;
  bool aux_free_bias_centre = false;
  bool router_muon = true;
};

struct OptimSection {
  double muon_lr = 0.01;
  double muon_momentum = 0.95;
  bool muon_nesterov = true;
  int64_t muon_ns_steps = 5;
  double adamw_lr = 0.001;
  double adamw_beta1 = 0.9;
  double adamw_beta2 = 0.999;
  double adamw_eps = 1e-8;
  double weight_decay = 0.1;
  double warmup_frac = 0.05;
  std::string decay = "cosine";  // cosine | linear | constant
  double min_lr_ratio = 0.1;
  double grad_clip = 1.0;
  bool legacy_schedule = false;
  std::string muon_qkv = "separate";  // separate | joint (the research's stacked 3·d_model × d_model matrix)
};

struct TrainSection {
  int64_t max_steps = 250;  // optimizer updates
  int64_t batch_size = 24;
  int64_t grad_accum = 4;
  std::string precision = "fp32";  // fp32 | bf16 (kernels/matmul_precision.hpp)
  int64_t debug_nan_step = -1;     // inject a NaN at this step (testing the detector)
  int64_t debug_signal_step = -1;  // send SIGTERM to itself after this step (testing stop/resume)
};

struct EvalSection {
  int64_t every = 50;
  int64_t batches = 0;  // 0 = the whole validation split
  double test_fraction = 0.1;
};

// Early stopping at an evaluation (off while patience = 0): the validation loss has not
// improved on its best by more than min_delta for `patience` evaluations, the train loss
// falls by less than max_slope per step over the last slope_window steps, and router
// entropy and max-load fraction changed by at most routing_tolerance over that window.
struct EarlyStopSection {
  int64_t patience = 0;
  double min_delta = 0.0;
  int64_t slope_window = 50;
  double max_slope = 1e-4;
  double routing_tolerance = 0.01;
};

struct DataSection {
  std::string train_shard;
  std::string val_shard;
  std::string test_shard;
  std::string corpus = "data/sotu";  // what scripts/fetch-corpus.sh provides
  std::string tokenizer_model;
  std::string data_dir = "data";
  double holdout_fraction = 0.1;
  int64_t split_seed = 1234;
  int64_t max_documents = 0;
  int64_t max_tokens = 0;
  int64_t max_doc_chars = 0;
};

struct OutputSection {
  std::string hdf5;  // default: <run.output_dir>/<run.name>.h5
  int64_t checkpoint_every = 0;
  int64_t log_every = 10;
};

struct RunDeck {
  RunSection run;
  ModelSection model;
  MoeSection moe;
  OptimSection optim;
  TrainSection train;
  EvalSection eval;
  EarlyStopSection early_stop;
  DataSection data;
  OutputSection output;
  std::string source;  // file the deck came from ("<string>" for in-memory decks)
};

// Parses and validates a deck; `source_name` is used in error messages. `overrides` are
// "section.key=value" assignments (value in TOML syntax; a bare word is a string) applied
// on top of the file before validation. Throws kmoe::Error naming the file, the key and
// the allowed values.
RunDeck parse_run_deck_string(const std::string& toml_text, const std::string& source_name,
                              const std::vector<std::string>& overrides = {});
RunDeck load_run_deck(const std::string& path, const std::vector<std::string>& overrides = {});

// The resolved deck, every key with its value, as TOML text.
std::string to_toml(const RunDeck& deck);
// Every key with its type, default, allowed values and documentation, as commented TOML.
std::string schema_reference();

}  // namespace kmoe
