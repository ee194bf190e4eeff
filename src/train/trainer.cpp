#include "train/trainer.hpp"

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/peak_memory.hpp"
#include "core/views.hpp"
#include "core/wall_timer.hpp"
#include "data/batch_sampler.hpp"
#include "data/corpus_preparation.hpp"
#include "model/model_from_deck.hpp"
#include "model/weights_io.hpp"
#include "optim/grad_clip.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "optim/schedules.hpp"
#include "train/checkpoint.hpp"
#include "train/progress_reporter.hpp"
#include "train/run_paths.hpp"
#include "train/run_record.hpp"
#include "train/step_accumulator.hpp"
#include "train/stop_signal.hpp"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>
#include <sstream>

namespace kmoe {
namespace fs = std::filesystem;

namespace {

using Model = MoeTransformer<float>;

struct Shards {
  std::unique_ptr<TokenShard> train, val, test;
  double unigram_entropy = std::numeric_limits<double>::quiet_NaN();
};

Shards open_shards(const RunDeck& deck, std::ostream& log) {
  Shards s;
  std::string train = deck.data.train_shard, val = deck.data.val_shard, test = deck.data.test_shard;
  if (train.empty()) {
    const auto prepared = prepare_corpus(deck, log);
    train = prepared.train;
    val = prepared.val;
    test = prepared.test;
    s.unigram_entropy = prepared.unigram_entropy;
  }
  s.train = std::make_unique<TokenShard>(train, deck.model.vocab_size);
  s.val = std::make_unique<TokenShard>(val, deck.model.vocab_size);
  if (!test.empty()) s.test = std::make_unique<TokenShard>(test, deck.model.vocab_size);
  return s;
}

// Checkpoint tensors: parameters, AdamW m and v, Muon momentum (host float copies).
template <class V>
std::vector<float> host_copy(const V& view) {
  const auto h = Kokkos::create_mirror_view_and_copy(HostSpace(), view);
  return std::vector<float>(h.data(), h.data() + h.span());
}
template <class V>
void restore(const V& view, const std::vector<float>& values, const std::string& what) {
  require(values.size() == view.span(), "checkpoint " + what + " has " + std::to_string(values.size()) +
                                            " values, the model needs " + std::to_string(view.span()));
  auto h = Kokkos::create_mirror_view(view);
  std::copy(values.begin(), values.end(), h.data());
  Kokkos::deep_copy(view, h);
}

std::string first_nonfinite_tensor(const ParameterSet<float>& params) {
  const auto grads = Kokkos::create_mirror_view_and_copy(HostSpace(), params.grads());
  for (const auto& s : params.specs()) {
    for (size_t j = 0; j < s.size(); ++j) {
      if (!std::isfinite(grads(s.offset + j))) return s.name;
    }
  }
  return "(loss only)";
}

void inject_nan(ParameterSet<float>& params, const std::string& tensor) {
  const auto grad = params.vector_grad(params.index_of(tensor));
  Kokkos::deep_copy(Kokkos::subview(grad, 0), std::numeric_limits<float>::quiet_NaN());
}

class Run {
 public:
  Run(const TrainerRequest& request, std::ostream& log)
      : deck_(request.deck), request_(request), log_(log), paths_(run_paths(deck_)) {}

  int execute();

 private:
  void set_up();
  void write_run_attributes();
  void resume_from_checkpoint();
  void save_checkpoint();
  bool train_one_update();  // false: non-finite values, the run failed
  const EvalResult& run_evaluation();
  void finish();

  const RunDeck& deck_;
  const TrainerRequest& request_;
  std::ostream& log_;
  RunPaths paths_;
  Shards shards_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<HybridOptimizer<float>> optimizer_;
  std::unique_ptr<RunRecord> record_;
  std::unique_ptr<ProgressReporter> progress_;
  std::unique_ptr<TrainBatchSampler> sampler_;
  TokenBatch batch_;
  EvalResult last_eval_;
  int64_t update_ = 0, micro_batches_ = 0, tokens_seen_ = 0, last_eval_step_ = -1;
  double best_val_ppl_ = 0, train_seconds_ = 0;
};

void Run::set_up() {
  fs::create_directories(deck_.run.output_dir);
  if (!fs::path(paths_.record).parent_path().empty()) fs::create_directories(fs::path(paths_.record).parent_path());
  shards_ = open_shards(deck_, log_);
  model_ = make_model<float>(deck_);
  optimizer_ = std::make_unique<HybridOptimizer<float>>(model_->params(), optimizer_settings_from_deck(deck_));
  const auto counts = count_parameters(model_->params().specs());
  std::ostringstream info;
  info << "kmoe " << kmoe_version() << " (" << git_commit() << "), Kokkos " << kokkos_version() << ", backend "
       << backend_description() << "\nparameters: " << counts.total << " total, " << counts.active
       << " active per token";
  if (!std::isnan(shards_.unigram_entropy)) info << "\nunigram entropy of the training tokens: " << shards_.unigram_entropy << " nats";
  log_ << info.str() << "\n";
  sampler_ = std::make_unique<TrainBatchSampler>(*shards_.train, int(deck_.model.seq_len), uint64_t(deck_.run.seed));
  batch_ = make_batch(int(deck_.train.batch_size), int(deck_.model.seq_len));
  progress_ = std::make_unique<ProgressReporter>(log_, isatty(STDOUT_FILENO), deck_.output.log_every, deck_.train.max_steps);
}

void Run::write_run_attributes() {
  auto& f = record_->file();
  const auto counts = count_parameters(model_->params().specs());
  std::string overrides;
  for (const auto& o : request_.overrides) overrides += (overrides.empty() ? "" : "\n") + o;
  f.set_attribute("/", "deck", to_toml(deck_));
  f.set_attribute("/", "deck_source", deck_.source);
  f.set_attribute("/", "overrides", overrides);
  f.set_attribute("/", "kmoe_version", kmoe_version());
  f.set_attribute("/", "git_commit", git_commit());
  f.set_attribute("/", "kokkos_version", kokkos_version());
  f.set_attribute("/", "backend", backend_description());
  f.set_attribute("/", "total_params", counts.total);
  f.set_attribute("/", "active_params", counts.active);
  f.set_attribute("/", "unigram_entropy", shards_.unigram_entropy);
  if (!request_.resume) f.set_attribute("/", "start_time", utc_timestamp());
  f.set_attribute("/", "status", std::string("running"));
  f.flush();
}

void Run::resume_from_checkpoint() {
  const auto ckpt = read_checkpoint(paths_.checkpoint);
  if (ckpt.deck_toml != to_toml(deck_)) {
    throw Error(paths_.checkpoint + ": checkpoint was written by a different deck; resume with the same deck and --set overrides");
  }
  require(ckpt.tensors.size() == 5, paths_.checkpoint + ": unexpected checkpoint layout");
  restore(model_->params().values(), ckpt.tensors[0], "parameters");
  restore(optimizer_->adamw().first_moment(), ckpt.tensors[1], "AdamW m");
  restore(optimizer_->adamw().second_moment(), ckpt.tensors[2], "AdamW v");
  restore(optimizer_->muon().momentum(), ckpt.tensors[3], "Muon momentum");
  model_->set_routing_bias(std::vector<double>(ckpt.tensors[4].begin(), ckpt.tensors[4].end()));
  optimizer_->set_updates(ckpt.update);
  update_ = ckpt.update;
  micro_batches_ = ckpt.micro_batches;
  tokens_seen_ = ckpt.tokens_seen;
  best_val_ppl_ = ckpt.best_val_ppl;
  train_seconds_ = ckpt.train_seconds;
  log_ << "resuming " << deck_.run.name << " at step " << update_ << " from " << paths_.checkpoint << "\n";
}

void Run::save_checkpoint() {
  CheckpointData d;
  d.deck_toml = to_toml(deck_);
  d.update = update_;
  d.micro_batches = micro_batches_;
  d.tokens_seen = tokens_seen_;
  d.best_val_ppl = best_val_ppl_;
  d.train_seconds = train_seconds_;
  d.tensors = {host_copy(model_->params().values()), host_copy(optimizer_->adamw().first_moment()),
               host_copy(optimizer_->adamw().second_moment()), host_copy(optimizer_->muon().momentum())};
  const auto bias = model_->routing_bias();
  d.tensors.emplace_back(bias.begin(), bias.end());
  write_checkpoint(paths_.checkpoint, d);
}

bool Run::train_one_update() {
  WallTimer timer;
  const auto& t = deck_.train;
  const auto& o = deck_.optim;
  const LrScheduleSettings lr_settings{o.warmup_frac, o.decay, o.min_lr_ratio, o.legacy_schedule, t.grad_accum};
  const double lr = lr_multiplier(lr_settings, update_, t.max_steps);
  const auto& m = deck_.moe;
  const double aux = aux_coefficient(AuxScheduleSettings{m.load_balancing_weight, m.load_balancing_weight_end,
                                                         m.lb_warmup_frac, m.lb_decay_end_frac},
                                     update_, t.max_steps);
  auto& params = model_->params();
  params.zero_grads();
  StepAccumulator accumulator;
  for (int64_t micro = 0; micro < t.grad_accum; ++micro) {
    sampler_->fill(micro_batches_, batch_);
    StepOptions options;
    options.seed = uint64_t(deck_.run.seed);
    options.rng_step = uint64_t(micro_batches_);
    options.lb_weight = aux;
    options.z_weight = m.z_loss_weight;
    options.grad_scale = 1.0 / double(t.grad_accum);
    accumulator.add(model_->forward(batch_, options));
    model_->backward();
    ++micro_batches_;
  }
  if (update_ == t.debug_nan_step) inject_nan(params, params.specs()[1].name);
  const auto result = accumulator.combined();
  TrainRow row;
  row.step = update_ + 1;
  row.lr_muon = o.muon_lr * lr;
  row.lr_adamw = o.adamw_lr * lr;
  row.aux_coef = aux;
  row.routing_bias = model_->routing_bias();
  row.nonfinite = !std::isfinite(result.total_loss) || !all_finite(params.grads());
  if (row.nonfinite) {
    row.tokens = tokens_seen_;
    row.grad_norm = std::numeric_limits<double>::quiet_NaN();
    record_->append_step(row, result);
    const std::string where = first_nonfinite_tensor(params);
    progress_->line("error: non-finite values at step " + std::to_string(update_ + 1) +
                    ": first non-finite gradient in tensor '" + where + "' (loss " +
                    std::to_string(result.total_loss) + ")");
    record_->file().set_attribute("/", "error",
                                  "non-finite gradient at step " + std::to_string(update_ + 1) + " in " + where);
    return false;
  }
  row.grad_norm = clip_gradient_norm(params.grads(), o.grad_clip);
  optimizer_->step(params, lr);
  if (m.aux_free_bias) model_->update_routing_bias(result, m.aux_free_bias_rate);
  Kokkos::fence();
  tokens_seen_ += result.tokens;
  row.tokens = tokens_seen_;
  const double seconds = timer.seconds();
  train_seconds_ += seconds;
  row.ms_per_step = 1e3 * seconds;
  row.tokens_per_s = double(result.tokens) / seconds;
  record_->append_step(row, result);
  ++update_;
  progress_->step(update_, result.total_loss, row.tokens_per_s, train_seconds_ / double(update_));
  return true;
}

const EvalResult& Run::run_evaluation() {
  last_eval_ = evaluate(*model_, *shards_.val, int(deck_.train.batch_size), deck_.eval.batches);
  const EvalResult& e = last_eval_;
  if (best_val_ppl_ == 0 || e.perplexity < best_val_ppl_) best_val_ppl_ = e.perplexity;
  record_->append_eval(update_, e, best_val_ppl_);
  last_eval_step_ = update_;
  std::ostringstream msg;
  msg << "eval step " << update_ << ": val loss " << e.loss << ", acc " << e.accuracy << ", ppl " << e.perplexity
      << " (best " << best_val_ppl_ << ")";
  if (model_->config().moe) msg << ", expert CV " << e.expert_cv_mean;
  progress_->line(msg.str());
  return e;
}

void Run::finish() {
  const EvalResult& final_val = last_eval_step_ == update_ ? last_eval_ : run_evaluation();
  record_->write_final("best_val_ppl", best_val_ppl_);
  record_->write_final("val_loss", final_val.loss);
  record_->write_final("val_accuracy", final_val.accuracy);
  record_->write_final("val_ppl", final_val.perplexity);
  record_->write_final("expert_cv", final_val.expert_cv_mean);
  if (shards_.test) {
    const auto test = evaluate(*model_, *shards_.test, int(deck_.train.batch_size), 0);
    record_->write_final("test_loss", test.loss);
    record_->write_final("test_ppl", test.perplexity);
    progress_->line("test: loss " + std::to_string(test.loss) + ", ppl " + std::to_string(test.perplexity));
  }
  record_->write_final("train_seconds", train_seconds_);
  record_->write_final("peak_host_memory_mib", peak_host_memory_mib());
  save_weights(model_->params(), paths_.weights);
  save_checkpoint();
}

int Run::execute() {
  set_up();
  std::string earlier_record;
  if (!request_.resume && fs::exists(paths_.checkpoint)) {
    log_ << "note: starting " << deck_.run.name << " from scratch although " << paths_.checkpoint
         << " exists (--resume continues it); it will be overwritten\n";
  }
  if (request_.resume) {
    resume_from_checkpoint();
    for (const auto& candidate : {paths_.record + ".partial", paths_.record}) {
      if (fs::exists(candidate)) {
        earlier_record = paths_.record + ".resume-source";
        fs::rename(candidate, earlier_record);
        break;
      }
    }
  }
  record_ = std::make_unique<RunRecord>(paths_.record, model_->config());
  if (!earlier_record.empty()) {
    record_->replay(earlier_record, update_);
    fs::remove(earlier_record);
  }
  write_run_attributes();
  install_stop_handlers();
  const auto& t = deck_.train;
  try {
    while (update_ < t.max_steps) {
      if (!train_one_update()) {
        record_->close("failed");
        return kExitFailed;
      }
      if (deck_.eval.every > 0 && update_ % deck_.eval.every == 0 && update_ < t.max_steps) run_evaluation();
      if (deck_.output.checkpoint_every > 0 && update_ % deck_.output.checkpoint_every == 0) save_checkpoint();
      if (update_ - 1 == t.debug_signal_step) std::raise(SIGTERM);
      if (stop_requested() && update_ < t.max_steps) {
        save_checkpoint();
        progress_->line("signal " + std::to_string(stop_signal_number()) + ": checkpointed at step " +
                        std::to_string(update_) + " to " + paths_.checkpoint + "; continue with --resume");
        record_->close("stopped");
        return kExitStopped;
      }
    }
    finish();
  } catch (const std::exception& err) {
    record_->file().set_attribute("/", "error", std::string(err.what()));
    record_->close("failed");
    throw;
  }
  record_->close("complete");
  log_ << "record: " << paths_.record << "\nweights: " << paths_.weights << "\n";
  return kExitComplete;
}

}  // namespace

int run_training(const TrainerRequest& request, std::ostream& log) {
  Run run(request, log);
  return run.execute();
}

}  // namespace kmoe
