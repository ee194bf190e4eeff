#include "train/run_record.hpp"

#include "io/hdf5_reader.hpp"

#include <algorithm>
#include <ctime>

namespace kmoe {

std::string utc_timestamp() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

RunRecord::RunRecord(const std::string& path, const ModelConfig& c) : out_(path), config_(c) {
  for (const char* name : {"/train/step", "/train/tokens"}) add(name, Kind::I64);
  for (const char* name : {"/train/lr_muon", "/train/lr_adamw", "/train/ce_loss", "/train/lb_loss", "/train/z_loss",
                           "/train/total_loss", "/train/accuracy", "/train/aux_coef", "/train/grad_norm",
                           "/train/ms_per_step", "/train/tokens_per_s"}) {
    add(name, Kind::F64);
  }
  add("/train/nonfinite", Kind::U8);
  add("/eval/step", Kind::I64);
  for (const char* name : {"/eval/val_loss", "/eval/val_accuracy", "/eval/val_ppl", "/eval/best_val_ppl"}) {
    add(name, Kind::F64);
  }
  if (c.moe) {
    const uint64_t L = c.n_layers, E = c.num_experts;
    add("/router/load", Kind::I64, {L, E});
    add("/router/importance", Kind::F64, {L, E});
    add("/router/entropy", Kind::F64, {L});
    add("/router/dropped", Kind::I64, {L});
    add("/router/max_load_frac", Kind::F64, {L});
    add("/router/min_load_frac", Kind::F64, {L});
    add("/router/lb_loss", Kind::F64, {L});
    add("/router/z_loss", Kind::F64, {L});
    add("/router/routing_bias", Kind::F64, {L, E});
    add("/eval/expert_cv", Kind::F64, {L});
    add("/eval/expert_cv_mean", Kind::F64);
    add("/eval/router_entropy", Kind::F64, {L});
    add("/eval/load", Kind::I64, {L, E});
  }
}

void RunRecord::add(const std::string& path, Kind kind, std::vector<uint64_t> row_shape) {
  if (kind == Kind::F64) out_.create_series<double>(path, row_shape);
  if (kind == Kind::I64) out_.create_series<int64_t>(path, row_shape);
  if (kind == Kind::U8) out_.create_series<uint8_t>(path, row_shape);
  series_.push_back(Series{path, kind, std::move(row_shape)});
}

void RunRecord::replay(const std::string& earlier_path, int64_t last_step) {
  const Hdf5Reader in(earlier_path);
  const auto rows_through = [&](const std::string& step_series) {
    const auto steps = in.read<int64_t>(step_series);
    return static_cast<size_t>(std::upper_bound(steps.begin(), steps.end(), last_step) - steps.begin());
  };
  const size_t train_rows = rows_through("/train/step"), eval_rows = rows_through("/eval/step");
  for (const auto& s : series_) {
    if (!in.has(s.path)) continue;
    const size_t rows = s.path.rfind("/eval/", 0) == 0 ? eval_rows : train_rows;
    size_t width = 1;
    for (auto n : s.row_shape) width *= n;
    if (s.kind == Kind::F64) {
      const auto v = in.read<double>(s.path);
      for (size_t r = 0; r < rows; ++r) out_.append<double>(s.path, v.data() + r * width);
    } else {
      const auto v = in.read<int64_t>(s.path);
      for (size_t r = 0; r < rows; ++r) {
        if (s.kind == Kind::I64) {
          out_.append<int64_t>(s.path, v.data() + r * width);
        } else {
          out_.append<uint8_t>(s.path, static_cast<uint8_t>(v[r]));
        }
      }
    }
  }
}

void RunRecord::append_step(const TrainRow& row, const ForwardResult& r) {
  out_.append<int64_t>("/train/step", row.step);
  out_.append<int64_t>("/train/tokens", row.tokens);
  out_.append<double>("/train/lr_muon", row.lr_muon);
  out_.append<double>("/train/lr_adamw", row.lr_adamw);
  out_.append<double>("/train/ce_loss", r.cross_entropy);
  out_.append<double>("/train/lb_loss", r.load_balancing);
  out_.append<double>("/train/z_loss", r.z_loss);
  out_.append<double>("/train/total_loss", r.total_loss);
  out_.append<double>("/train/accuracy", r.tokens ? double(r.correct) / double(r.tokens) : 0.0);
  out_.append<double>("/train/aux_coef", row.aux_coef);
  out_.append<double>("/train/grad_norm", row.grad_norm);
  out_.append<double>("/train/ms_per_step", row.ms_per_step);
  out_.append<double>("/train/tokens_per_s", row.tokens_per_s);
  out_.append<uint8_t>("/train/nonfinite", row.nonfinite ? 1 : 0);
  if (!config_.moe) return;
  const int L = config_.n_layers, E = config_.num_experts;
  std::vector<int64_t> load, dropped;
  std::vector<double> importance, entropy, max_frac, min_frac, lb, z;
  for (int l = 0; l < L; ++l) {
    const auto& s = r.layers[l];
    int64_t total = 0;
    for (int e = 0; e < E; ++e) {
      load.push_back(s.expert_tokens[e]);
      importance.push_back(s.mean_prob[e]);
      total += s.expert_tokens[e];
    }
    const auto [lo, hi] = std::minmax_element(s.expert_tokens.begin(), s.expert_tokens.end());
    max_frac.push_back(total ? double(*hi) / double(total) : 0.0);
    min_frac.push_back(total ? double(*lo) / double(total) : 0.0);
    entropy.push_back(s.entropy);
    dropped.push_back(s.dropped);
    lb.push_back(s.load_balancing);
    z.push_back(s.z_loss);
  }
  out_.append<int64_t>("/router/load", load.data());
  out_.append<double>("/router/importance", importance.data());
  out_.append<double>("/router/entropy", entropy.data());
  out_.append<int64_t>("/router/dropped", dropped.data());
  out_.append<double>("/router/max_load_frac", max_frac.data());
  out_.append<double>("/router/min_load_frac", min_frac.data());
  out_.append<double>("/router/lb_loss", lb.data());
  out_.append<double>("/router/z_loss", z.data());
  out_.append<double>("/router/routing_bias", row.routing_bias.data());
}

void RunRecord::append_eval(int64_t step, const EvalResult& e, double best_val_ppl) {
  out_.append<int64_t>("/eval/step", step);
  out_.append<double>("/eval/val_loss", e.loss);
  out_.append<double>("/eval/val_accuracy", e.accuracy);
  out_.append<double>("/eval/val_ppl", e.perplexity);
  out_.append<double>("/eval/best_val_ppl", best_val_ppl);
  if (config_.moe) {
    std::vector<int64_t> load;
    for (const auto& layer : e.load) load.insert(load.end(), layer.begin(), layer.end());
    out_.append<double>("/eval/expert_cv", e.expert_cv.data());
    out_.append<double>("/eval/expert_cv_mean", e.expert_cv_mean);
    out_.append<double>("/eval/router_entropy", e.router_entropy.data());
    out_.append<int64_t>("/eval/load", load.data());
  }
  out_.flush();
}

void RunRecord::write_final(const std::string& name, double value) {
  out_.write_array<double>("/final/" + name, {}, &value);
}

void RunRecord::close(const std::string& status) {
  out_.set_attribute("/", "status", status);
  out_.set_attribute("/", "end_time", utc_timestamp());
  out_.close();
}

}  // namespace kmoe
