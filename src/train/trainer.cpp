#include "train/trainer.hpp"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>

#include "core/build_info.hpp"
#include "core/communicator.hpp"
#include "core/crash_point.hpp"
#include "core/error.hpp"
#include "core/memory_ledger.hpp"
#include "core/peak_memory.hpp"
#include "core/run_state.hpp"
#include "core/views.hpp"
#include "core/wall_timer.hpp"
#include "data/batch_sampler.hpp"
#include "data/corpus_preparation.hpp"
#include "data/run_shards.hpp"
#include "io/deck_schema.hpp"
#include "io/hdf5_reader.hpp"
#include "kernels/host_blas.hpp"
#include "model/parameter_registry.hpp"
#include "model/weights_io.hpp"
#include "optim/hybrid_optimizer.hpp"
#include "optim/schedules.hpp"
#include "train/checkpoint.hpp"
#include "train/deck_settings.hpp"
#include "train/early_stop.hpp"
#include "train/gradient_sum.hpp"
#include "train/memory_check.hpp"
#include "train/model_from_deck.hpp"
#include "train/output_guard.hpp"
#include "train/progress_reporter.hpp"
#include "train/record_datasets.hpp"
#include "train/resume_compatibility.hpp"
#include "train/routing_probe.hpp"
#include "train/run_lock.hpp"
#include "train/run_paths.hpp"
#include "train/run_record.hpp"
#include "train/sharded_update.hpp"
#include "train/step_accumulator.hpp"
#include "train/stop_signal.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

using Model = MoeTransformer<float>;

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
      : deck_(request.deck),
        request_(request),
        comm_(Communicator::world()),
        log_(comm_.root() ? log : quiet_),
        paths_(run_paths(deck_)) {}

  int execute();

 private:
  bool handle_earlier_outputs();  // false: nothing to do (the run is already complete)
  void set_up();
  void write_run_attributes();
  void resume_from_checkpoint();
  void save_checkpoint();
  void publish() {
    if (comm_.root()) record_->save(paths_.partial, "record");
  }
  // The update's micro-batch results, every rank's, in micro-batch order.
  std::vector<ForwardResult> gather_results(const std::vector<ForwardResult>& mine) const;
  int end_run(RunState state, int exit_code);
  void report_failure(const std::string& message, const std::string& record_error);
  bool train_one_update();  // false: non-finite values, the run failed
  bool run_evaluation();    // false: non-finite validation values, the run failed
  std::string early_stop_reason_now() const;
  double eta_seconds(double tokens_per_s) const;
  void finish();

  const RunDeck& deck_;
  const TrainerRequest& request_;
  const Communicator& comm_;
  std::ostringstream quiet_;  // the log of ranks other than 0
  std::ostream& log_;
  RunPaths paths_;
  std::unique_ptr<RunLock> lock_;
  Shards shards_;
  std::string data_identity_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<ShardedUpdate> update_work_;
  std::unique_ptr<RunRecord> record_;
  std::unique_ptr<ProgressReporter> progress_;
  std::unique_ptr<TrainBatchSampler> sampler_;
  std::unique_ptr<RoutingProbe> probe_;  // MoE models
  std::unique_ptr<GradientSum> gradient_sum_;
  TokenBatch batch_;
  std::optional<CheckpointData> checkpoint_;  // the one being resumed
  int64_t last_update_ = 0;                   // this invocation trains up to here
  int64_t update_ = 0, micro_batches_ = 0, tokens_seen_ = 0;
  double best_val_ppl_ = 0, train_seconds_ = 0;
};

RunState status_of(const std::string& record) {
  try {
    return run_state_from(Hdf5Reader(record).string_attribute("/", "status")).value_or(RunState::unreadable);
  } catch (const Error&) {
    return RunState::unreadable;
  }
}

bool Run::handle_earlier_outputs() {
  const bool has_record = fs::exists(paths_.record), has_partial = fs::exists(paths_.partial),
             has_checkpoint = fs::exists(paths_.checkpoint), has_weights = fs::exists(paths_.weights);
  if (request_.overwrite) {
    for (const auto& path : {paths_.record, paths_.partial, paths_.checkpoint, paths_.weights}) {
      if (fs::exists(path)) log_ << "--overwrite: removing " << path << "\n";
      if (comm_.root()) fs::remove(path);
    }
    return true;
  }
  const RunState status = has_record ? status_of(paths_.record) : RunState::pending;  // pending: no record yet
  if (request_.resume) {
    if (has_checkpoint) {
      checkpoint_ = read_checkpoint(paths_.checkpoint);
      const auto then = parse_run_deck_string(checkpoint_->deck_toml, paths_.checkpoint + " (its deck)");
      const bool extends = then.train.max_steps < deck_.train.max_steps;  // not after an early stop
      if (status == RunState::complete && !extends) {
        log_ << paths_.record << " is complete (" << checkpoint_->update << " steps): nothing to resume\n";
        if (comm_.root()) fs::remove(paths_.partial);
        return false;
      }
      return true;
    }
    require(status != RunState::complete, paths_.record + " is complete but its checkpoint " + paths_.checkpoint +
                                              " is missing: nothing to resume (--overwrite starts over)");
    log_ << "--resume: no checkpoint " << paths_.checkpoint << " yet; starting from step 0\n";
    return true;
  }
  if (has_record && status == RunState::complete) {
    throw Error(paths_.record +
                " holds a complete run; it is not replaced unless you ask: --overwrite starts "
                "over, or change run.name");
  }
  if (has_record || has_partial || has_checkpoint || has_weights) {
    throw Error("run '" + deck_.run.name + "' has earlier outputs (" +
                (has_checkpoint ? paths_.checkpoint
                 : has_partial  ? paths_.partial
                 : has_record   ? paths_.record
                                : paths_.weights) +
                (has_record ? ", status " + std::string(to_string(status)) : "") +
                "): continue it with --resume, or start over with --overwrite");
  }
  return true;
}

void Run::set_up() {
  check_memory_fits(deck_, comm_.size());
  start_memory_ledger();
  shards_ = open_shards(deck_, log_);
  data_identity_ = data_identity(shards_);
  model_ = make_model<float>(deck_, shards_.train.get());
  update_work_ = std::make_unique<ShardedUpdate>(model_->params(), optimizer_settings_from_deck(deck_), comm_,
                                                 !request_.replicate_optimizer);
  allocate_before_first_step(*model_, deck_);
  const auto counts = count_parameters(model_->params().specs());
  std::ostringstream info;
  info << "kmoe " << kmoe_version() << " (" << git_commit() << "), Kokkos " << kokkos_version() << ", backend "
       << backend_description() << "\nmatrix products: " << kernels::matrix_product_library()
       << "\nparameters: " << counts.total << " total, " << counts.active
       << " active per token\nprecision: " << deck_.train.precision
       << (deck_.train.precision == "bf16"
               ? " matrix-product operands, fp32 accumulation, master weights and optimizer state"
               : "");
  if (!std::isnan(shards_.unigram_entropy))
    info << "\nunigram entropy of the training tokens: " << shards_.unigram_entropy << " nats";
  log_ << info.str() << std::endl;
  sampler_ = std::make_unique<TrainBatchSampler>(*shards_.train, int(deck_.model.seq_len), uint64_t(deck_.run.seed));
  require(comm_.size() == 1 || deck_.moe.load_balancing_scope != "global_batch",
          "moe.load_balancing_scope = \"global_batch\" needs the running counts of the update's earlier "
          "micro-batches, which other ranks are still computing: run it as one process");
  gradient_sum_ = std::make_unique<GradientSum>(model_->params().grads(), int(deck_.train.grad_accum), comm_,
                                                update_work_->gradients_needed());
  if (model_->config().moe) {
    probe_ = std::make_unique<RoutingProbe>(
        model_->config(), first_batch_tokens(*shards_.val, int(deck_.model.seq_len), int(deck_.train.batch_size)));
  }
  batch_ = make_batch(int(deck_.train.batch_size), int(deck_.model.seq_len));
  last_update_ = request_.until_step > 0 ? std::min(request_.until_step, deck_.train.max_steps) : deck_.train.max_steps;
  progress_ = std::make_unique<ProgressReporter>(log_, isatty(STDOUT_FILENO), deck_.output.log_every, last_update_);
  record_ = std::make_unique<RunRecord>(model_->config());
}

void Run::write_run_attributes() {
  const auto counts = count_parameters(model_->params().specs());
  std::string overrides;
  for (const auto& o : request_.overrides) overrides += (overrides.empty() ? "" : "\n") + o;
  record_->set_attribute("deck", to_toml(deck_));
  record_->set_attribute("deck_source", deck_.source);
  record_->set_attribute("overrides", overrides);
  record_->set_attribute("kmoe_version", kmoe_version());
  record_->set_attribute("git_commit", git_commit());
  record_->set_attribute("kokkos_version", kokkos_version());
  record_->set_attribute("backend", backend_description());
  record_->set_attribute("matrix_products", kernels::matrix_product_library());
  record_->set_attribute("precision", deck_.train.precision);
  record_->set_attribute("ranks", int64_t(comm_.size()));
  if (deck_.model.ffn == "moe") {
    const auto& e = deck_.moe;
    const auto c = model_config_from_deck(deck_);
    record_->set_attribute("load_balancing_convention", "f " + e.load_balancing_fractions + ", layers " +
                                                            e.load_balancing_layers + ", scope " +
                                                            e.load_balancing_scope);
    record_->set_attribute("load_balancing_at_balance",
                           kernels::balanced_load_balancing(c.lb_fractions, c.lb_layers, c.top_k, c.n_layers));
    // Expert choice sees the later tokens of its group: its losses are not a causal model's.
    record_->set_attribute("routing_probe_tokens", int64_t(first_batch_tokens(*shards_.val, int(deck_.model.seq_len),
                                                                              int(deck_.train.batch_size))));
    record_->set_attribute("routing_causal",
                           std::string(c.routing() == kernels::Routing::expert_choice ? "no: expert choice sees the "
                                                                                        "later tokens of its " +
                                                                                            e.expert_choice_group
                                                                                      : "yes"));
  }
  record_->set_attribute("total_params", counts.total);
  record_->set_attribute("active_params", counts.active);
  record_->set_attribute("unigram_entropy", shards_.unigram_entropy);
  record_->set_attribute("data", data_identity_);
  if (record_->string_attribute("start_time").empty()) record_->set_attribute("start_time", utc_timestamp());
  record_->set_attribute("status", std::string(to_string(RunState::running)));
  record_->set_attribute("stop_reason", std::string());
}

void Run::resume_from_checkpoint() {
  const CheckpointData& ckpt = *checkpoint_;
  const auto then = parse_run_deck_string(ckpt.deck_toml, paths_.checkpoint + " (its deck)");
  const std::string why = resume_incompatibility(then, deck_, ckpt.update);
  require(why.empty(), paths_.checkpoint + ": cannot resume: " + why);
  const std::string data_changed = changed_data(ckpt.data_identity, data_identity_);
  require(data_changed.empty(),
          paths_.checkpoint + ": cannot resume: the token data changed since the checkpoint" + data_changed);
  restore(model_->params().values(), ckpt.parameters, "parameters");
  update_work_->restore_state(OptimizerState{ckpt.adamw_m, ckpt.adamw_v, ckpt.muon_momentum}, paths_.checkpoint);
  model_->set_routing_bias(std::vector<double>(ckpt.routing_bias.begin(), ckpt.routing_bias.end()));
  if (probe_) probe_->restore(ckpt.probe_routing);
  record_->restore(ckpt.record_state, paths_.checkpoint);
  require(record_->steps() == ckpt.update, paths_.checkpoint + ": its record rows do not end at its step");
  update_work_->set_updates(ckpt.update);
  update_ = ckpt.update;
  micro_batches_ = ckpt.micro_batches;
  tokens_seen_ = ckpt.tokens_seen;
  best_val_ppl_ = ckpt.best_val_ppl;
  train_seconds_ = ckpt.train_seconds;
  checkpoint_.reset();
  log_ << "resuming " << deck_.run.name << " at step " << update_ << " from " << paths_.checkpoint << "\n";
}

void Run::save_checkpoint() {
  OptimizerState state = update_work_->gathered_state();  // every rank's part
  if (!comm_.root()) return;
  CheckpointData d;
  d.deck_toml = to_toml(deck_);
  d.data_identity = data_identity_;
  d.update = update_;
  d.micro_batches = micro_batches_;
  d.tokens_seen = tokens_seen_;
  d.best_val_ppl = best_val_ppl_;
  d.train_seconds = train_seconds_;
  d.parameters = host_copy(model_->params().values());
  d.adamw_m = std::move(state.adamw_m);
  d.adamw_v = std::move(state.adamw_v);
  d.muon_momentum = std::move(state.muon_momentum);
  const auto bias = model_->routing_bias();
  d.routing_bias.assign(bias.begin(), bias.end());
  if (probe_) d.probe_routing = probe_->state();
  d.record_state = record_->serialize();
  write_checkpoint(paths_.checkpoint, d);
}

std::vector<ForwardResult> Run::gather_results(const std::vector<ForwardResult>& mine) const {
  if (comm_.size() == 1) return mine;
  const auto& c = model_->config();
  const int layers = c.moe ? c.n_layers : 0;
  const size_t width = packed_result_size(layers, c.num_experts);
  std::vector<double> local, all(width * mine.size() * comm_.size());
  for (const auto& r : mine) {
    const auto packed = pack_result(r);
    local.insert(local.end(), packed.begin(), packed.end());
  }
  comm_.allgather("micro-batch results", local.data(), local.size(), all.data());
  std::vector<ForwardResult> out;
  for (size_t m = 0; m < all.size() / width; ++m)
    out.push_back(unpack_result(all.data() + m * width, layers, c.num_experts));
  return out;
}

bool Run::train_one_update() {
  WallTimer timer;
  const auto& t = deck_.train;
  const auto& o = deck_.optim;
  const double lr = lr_multiplier(lr_schedule_from_deck(deck_), update_, t.max_steps);
  const double aux = aux_coefficient(load_balancing_schedule_from_deck(deck_), update_, t.max_steps);
  const auto& m = deck_.moe;
  auto& params = model_->params();
  auto& sum = *gradient_sum_;
  std::vector<ForwardResult> mine;
  for (int i = 0; i < sum.count(); ++i) {  // this rank's share of the update's micro-batches
    const int64_t micro = micro_batches_ + sum.first() + i;
    sampler_->fill(micro, batch_);
    sum.before_backward(i);
    mine.push_back(model_->forward(batch_, training_step_options(deck_, micro, aux)));
    model_->backward();
    sum.after_backward(i);
  }
  sum.finish();
  micro_batches_ += t.grad_accum;
  StepAccumulator accumulator;
  for (const auto& result : gather_results(mine)) accumulator.add(result);
  if (update_ == t.debug_nan_step) inject_nan(params, params.specs()[1].name);
  const auto result = accumulator.combined();
  TrainRow row;
  row.step = update_ + 1;
  row.lr_muon = o.muon_lr * lr;
  row.lr_adamw = o.adamw_lr * lr;
  row.aux_coef = aux;
  row.routing_bias = model_->routing_bias();
  row.nonfinite = !std::isfinite(result.total_loss) || !update_work_->gradients_finite();
  if (row.nonfinite) {
    update_work_->share_gradients();
    row.tokens = tokens_seen_;
    row.grad_norm = std::numeric_limits<double>::quiet_NaN();
    record_->append_step(row, result);
    const std::string where = first_nonfinite_tensor(params);
    report_failure("non-finite values at step " + std::to_string(update_ + 1) +
                       ": first non-finite gradient in tensor '" + where + "' (loss " +
                       std::to_string(result.total_loss) + ")",
                   "non-finite gradient at step " + std::to_string(update_ + 1) + " in " + where);
    return false;
  }
  row.grad_norm = update_work_->clip(o.grad_clip);
  update_work_->step(lr);
  if (m.aux_free_bias) model_->update_routing_bias(result, m.aux_free_bias_rate, m.aux_free_bias_centre);
  Kokkos::fence();
  tokens_seen_ += result.tokens;
  row.tokens = tokens_seen_;
  const double seconds = timer.seconds();
  train_seconds_ += seconds;
  row.ms_per_step = 1e3 * seconds;
  row.tokens_per_s = double(result.tokens) / seconds;
  record_->append_step(row, result);
  ++update_;
  progress_->step(update_, result.total_loss, row.tokens_per_s, eta_seconds(row.tokens_per_s));
  crash_point("step");
  return true;
}

bool Run::run_evaluation() {
  WallTimer timer;
  const EvalResult e = evaluate(*model_, *shards_.val, int(deck_.train.batch_size), deck_.eval.batches, probe_.get());
  const double seconds = timer.seconds();
  if (!std::isfinite(e.loss) || !std::isfinite(e.perplexity)) {
    const std::string message = "evaluation at step " + std::to_string(update_) + " gave a non-finite validation " +
                                (std::isfinite(e.loss) ? "perplexity (loss " + std::to_string(e.loss) + ")" : "loss");
    report_failure(message, message);
    return false;
  }
  if (best_val_ppl_ == 0 || e.perplexity < best_val_ppl_) best_val_ppl_ = e.perplexity;
  record_->append_eval(update_, e, best_val_ppl_, seconds);
  std::ostringstream msg;
  msg << "eval step " << update_ << ": val loss " << e.loss << ", acc " << e.accuracy << ", ppl " << e.perplexity
      << " (best " << best_val_ppl_ << ")";
  if (model_->config().moe) msg << ", expert CV " << e.expert_cv_mean;
  progress_->line(msg.str());
  crash_point("eval");
  return true;
}

std::string Run::early_stop_reason_now() const {
  StopEvidence e;
  e.val_loss = record_->row_means(record::kEvalValLoss);
  for (double step : record_->row_means(record::kEvalStep)) e.eval_steps.push_back(int64_t(step));
  e.train_loss = record_->row_means(record::kTrainCeLoss);
  e.router_entropy = record_->row_means(record::kRouterEntropy);
  e.max_load_frac = record_->row_means(record::kRouterMaxLoadFrac);
  return early_stop_reason(deck_.early_stop, e);
}

// Training time per step so far times the steps left, plus the evaluations left at their mean
// time (before the first: the validation tokens at a third of the training step's time per
// token, a forward pass being about a third of forward + backward).
double Run::eta_seconds(double tokens_per_s) const {
  const int64_t every = deck_.eval.every;
  const int64_t evals_left = (every > 0 ? last_update_ / every - update_ / every : 0) + 1;
  const int64_t evals_done = int64_t(record_->row_means(record::kEvalStep).size());
  double per_eval = evals_done > 0 ? record_->eval_seconds() / double(evals_done) : 0;
  if (evals_done == 0 && tokens_per_s > 0) {
    const int64_t window = deck_.model.seq_len + 1, windows = shards_.val->size() / window;
    const int64_t batches = deck_.eval.batches;
    const int64_t evaluated = batches > 0 ? std::min(windows, batches * deck_.train.batch_size) : windows;
    per_eval = double(evaluated * deck_.model.seq_len) / (3 * tokens_per_s);
  }
  return train_seconds_ / double(update_) * double(last_update_ - update_) + per_eval * double(evals_left);
}

void Run::finish() {
  const EvalRow final_val = *record_->last_eval();  // execute() ensures one at this step
  record_->set_final("best_val_ppl", best_val_ppl_);
  record_->set_final("val_loss", final_val.val_loss);
  record_->set_final("val_accuracy", final_val.val_accuracy);
  record_->set_final("val_ppl", final_val.val_ppl);
  record_->set_final("expert_cv", final_val.expert_cv_mean);
  if (shards_.test) {
    const auto test = evaluate(*model_, *shards_.test, int(deck_.train.batch_size), 0);
    record_->set_final("test_loss", test.loss);
    record_->set_final("test_ppl", test.perplexity);
    progress_->line("test: loss " + std::to_string(test.loss) + ", ppl " + std::to_string(test.perplexity));
  }
  record_->set_final("train_seconds", train_seconds_);
  record_->set_final("eval_seconds", record_->eval_seconds());
  record_->set_final("peak_host_memory_mib", peak_host_memory_mib());
  record_->set_final("peak_device_memory_mib", double(memory_ledger().peak_bytes) / kMiB);
  if (comm_.root()) save_weights(model_->params(), paths_.weights);
  save_checkpoint();
}

// On the progress log and stderr; `record_error` goes into the record's error attribute.
void Run::report_failure(const std::string& message, const std::string& record_error) {
  progress_->line("error: " + message);
  std::cerr << "kmoe-train: " << message << std::endl;
  record_->set_attribute("error", record_error);
}

// Writes the record under its final name with `status` and removes the .partial. If even
// that fails (a full disk), the last .partial stays as the readable record.
int Run::end_run(RunState state, int exit_code) {
  record_->set_attribute("status", std::string(to_string(state)));
  record_->set_attribute("end_time", utc_timestamp());
  if (comm_.root()) {
    try {
      record_->save(paths_.record, "final-record");
      fs::remove(paths_.partial);
    } catch (const std::exception& err) {
      std::cerr << "kmoe-train: " << err.what() << "; the last saved record is " << paths_.partial << std::endl;
      return kExitFailed;
    }
  }
  // No rank exits before rank 0 has written the record: mpirun ends the whole job, with SIGKILL
  // a second later, once one rank exits with a code other than 0 (75 after a stop). A failure
  // may have left the ranks in different calls: those end by their exit.
  if (state != RunState::failed) comm_.barrier("run files written");
  return exit_code;
}

int Run::execute() {
  install_stop_handlers();
  // Rank 0 owns the run's files: it checks, locks and (with --overwrite) clears them first; the
  // other ranks then read the same state.
  bool go_on = true;
  if (comm_.root()) {
    check_outputs(deck_, paths_);
    for (const auto& path : {paths_.record, paths_.checkpoint}) {
      const auto dir = fs::path(path).parent_path();
      if (!dir.empty()) fs::create_directories(dir);
    }
    lock_ = std::make_unique<RunLock>(paths_.locks);
    go_on = handle_earlier_outputs();
  }
  comm_.barrier("run files ready");
  if (!comm_.root()) go_on = handle_earlier_outputs();
  if (!go_on) return kExitComplete;
  set_up();
  if (checkpoint_) resume_from_checkpoint();
  write_run_attributes();
  if (stop_requested()) {
    progress_->line("signal " + std::to_string(stop_signal_number()) + " before the first step: nothing to save");
    return kExitStopped;
  }
  const auto& t = deck_.train;
  try {
    publish();  // before step 1: an unwritable output fails now, not after training
    if (comm_.root() && request_.resume && fs::exists(paths_.record))
      fs::remove(paths_.record);  // a stopped or failed ending
    bool stopped_early = false;
    while (update_ < last_update_ && !stopped_early) {
      if (!train_one_update()) return end_run(RunState::failed, kExitFailed);
      const bool eval_now = deck_.eval.every > 0 && update_ % deck_.eval.every == 0;
      if (eval_now && !run_evaluation()) return end_run(RunState::failed, kExitFailed);
      const std::string early = eval_now && update_ < t.max_steps ? early_stop_reason_now() : "";
      if (!early.empty()) {
        stopped_early = true;
        record_->set_attribute("stop_reason", early);
        record_->set_final("early_stop_step", double(update_));
        progress_->line(early);
      }
      const bool checkpoint_now = deck_.output.checkpoint_every > 0 && update_ % deck_.output.checkpoint_every == 0;
      if (eval_now || checkpoint_now) publish();
      if (checkpoint_now && update_ < last_update_ && !stopped_early) save_checkpoint();
      if (update_ - 1 == t.debug_signal_step) std::raise(SIGTERM);
      if (comm_.any("stop requested", stop_requested()) && update_ < last_update_ && !stopped_early) {
        save_checkpoint();
        const std::string why = "signal " + std::to_string(stop_signal_number());
        record_->set_attribute("stop_reason", why);
        progress_->line(why + ": checkpointed at step " + std::to_string(update_) + " to " + paths_.checkpoint +
                        "; continue with --resume");
        return end_run(RunState::stopped, kExitStopped);
      }
    }
    // The final evaluation, unless the last periodic one (or a resumed run's) was at this step.
    const auto last = record_->last_eval();
    if ((!last || last->step != update_) && !run_evaluation()) return end_run(RunState::failed, kExitFailed);
    if (update_ < t.max_steps && !stopped_early) {
      save_checkpoint();
      const std::string why = "until_step " + std::to_string(update_) + " of " + std::to_string(t.max_steps);
      record_->set_attribute("stop_reason", why);
      progress_->line("stopped at " + why + "; continue with --resume");
      return end_run(RunState::stopped, kExitComplete);
    }
    finish();
  } catch (const std::exception& err) {
    record_->set_attribute("error", std::string(err.what()));
    end_run(RunState::failed, kExitFailed);
    throw;
  }
  const int status = end_run(RunState::complete, kExitComplete);
  if (status == kExitComplete) log_ << "record: " << paths_.record << "\nweights: " << paths_.weights << "\n";
  return status;
}

}  // namespace

int run_training(const TrainerRequest& request, std::ostream& log) {
  Run run(request, log);
  return run.execute();
}

}  // namespace kmoe
