#include "train/run_record.hpp"

#include <algorithm>
#include <ctime>

#include "io/byte_buffer.hpp"
#include "io/hdf5_writer.hpp"
#include "train/record_datasets.hpp"

namespace kmoe {

std::string utc_timestamp() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

uint64_t RunRecord::Column::width() const {
  uint64_t w = 1;
  for (auto n : row_shape) w *= n;
  return w;
}

RunRecord::RunRecord(const ModelConfig& c) : config_(c) {
  for (const char* name : {record::kTrainStep, record::kTrainTokens}) add(name, Kind::I64);
  for (const char* name : {record::kTrainLrMuon, record::kTrainLrAdamw, record::kTrainCeLoss, record::kTrainLbLoss,
                           record::kTrainZLoss, record::kTrainTotalLoss, record::kTrainAccuracy, record::kTrainAuxCoef,
                           record::kTrainGradNorm, record::kTrainMsPerStep, record::kTrainTokensPerS}) {
    add(name, Kind::F64);
  }
  add(record::kTrainNonfinite, Kind::U8);
  add(record::kEvalStep, Kind::I64);
  for (const char* name : {record::kEvalValLoss, record::kEvalValAccuracy, record::kEvalValPpl, record::kEvalBestValPpl,
                           record::kEvalSeconds}) {
    add(name, Kind::F64);
  }
  if (c.moe) {
    const uint64_t L = c.n_layers, E = c.num_experts;
    add(record::kRouterLoad, Kind::I64, {L, E});
    add(record::kRouterImportance, Kind::F64, {L, E});
    add(record::kRouterEntropy, Kind::F64, {L});
    add(record::kRouterDropped, Kind::I64, {L});
    add(record::kRouterUnrouted, Kind::I64, {L});
    add(record::kRouterMaxLoadFrac, Kind::F64, {L});
    add(record::kRouterMinLoadFrac, Kind::F64, {L});
    add(record::kRouterLbLoss, Kind::F64, {L});
    add(record::kRouterZLoss, Kind::F64, {L});
    add(record::kRouterRoutingBias, Kind::F64, {L, E});
    add(record::kEvalExpertCv, Kind::F64, {L});
    add(record::kEvalExpertCvMean, Kind::F64);
    add(record::kEvalRouterEntropy, Kind::F64, {L});
    add(record::kEvalLoad, Kind::I64, {L, E});
    add(record::kEvalRoutingChange, Kind::F64, {L});
    add(record::kEvalCoactivation, Kind::I64, {L, E, E});
  }
}

void RunRecord::add(const std::string& path, Kind kind, std::vector<uint64_t> row_shape) {
  Column column;
  column.kind = kind;
  column.row_shape = std::move(row_shape);
  columns_[path] = column;
}

void RunRecord::push(const std::string& path, const std::vector<double>& row) {
  auto& c = columns_.at(path);
  c.real.insert(c.real.end(), row.begin(), row.end());
}

void RunRecord::push(const std::string& path, const std::vector<int64_t>& row) {
  auto& c = columns_.at(path);
  c.whole.insert(c.whole.end(), row.begin(), row.end());
}

void RunRecord::set_attribute(const std::string& name, const std::string& value) { attributes_[name] = value; }
void RunRecord::set_attribute(const std::string& name, double value) { attributes_[name] = value; }
void RunRecord::set_attribute(const std::string& name, int64_t value) { attributes_[name] = value; }

std::string RunRecord::string_attribute(const std::string& name) const {
  const auto it = attributes_.find(name);
  if (it == attributes_.end() || !std::holds_alternative<std::string>(it->second)) return "";
  return std::get<std::string>(it->second);
}

void RunRecord::append_step(const TrainRow& row, const ForwardResult& r) {
  push(record::kTrainStep, row.step);
  push(record::kTrainTokens, row.tokens);
  push(record::kTrainLrMuon, row.lr_muon);
  push(record::kTrainLrAdamw, row.lr_adamw);
  push(record::kTrainCeLoss, r.cross_entropy);
  push(record::kTrainLbLoss, r.load_balancing);
  push(record::kTrainZLoss, r.z_loss);
  push(record::kTrainTotalLoss, r.total_loss);
  push(record::kTrainAccuracy, r.tokens ? double(r.correct) / double(r.tokens) : 0.0);
  push(record::kTrainAuxCoef, row.aux_coef);
  push(record::kTrainGradNorm, row.grad_norm);
  push(record::kTrainMsPerStep, row.ms_per_step);
  push(record::kTrainTokensPerS, row.tokens_per_s);
  push(record::kTrainNonfinite, int64_t{row.nonfinite ? 1 : 0});
  if (!config_.moe) return;
  const int L = config_.n_layers, E = config_.num_experts;
  std::vector<int64_t> load, dropped, unrouted;
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
    unrouted.push_back(s.unrouted);
    lb.push_back(s.load_balancing);
    z.push_back(s.z_loss);
  }
  push(record::kRouterLoad, load);
  push(record::kRouterImportance, importance);
  push(record::kRouterEntropy, entropy);
  push(record::kRouterDropped, dropped);
  push(record::kRouterUnrouted, unrouted);
  push(record::kRouterMaxLoadFrac, max_frac);
  push(record::kRouterMinLoadFrac, min_frac);
  push(record::kRouterLbLoss, lb);
  push(record::kRouterZLoss, z);
  push(record::kRouterRoutingBias, row.routing_bias);
}

void RunRecord::append_eval(int64_t step, const EvalResult& e, double best_val_ppl, double seconds) {
  push(record::kEvalStep, step);
  push(record::kEvalSeconds, seconds);
  push(record::kEvalValLoss, e.loss);
  push(record::kEvalValAccuracy, e.accuracy);
  push(record::kEvalValPpl, e.perplexity);
  push(record::kEvalBestValPpl, best_val_ppl);
  if (config_.moe) {
    std::vector<int64_t> load;
    for (const auto& layer : e.load) load.insert(load.end(), layer.begin(), layer.end());
    push(record::kEvalExpertCv, e.expert_cv);
    push(record::kEvalExpertCvMean, e.expert_cv_mean);
    push(record::kEvalRouterEntropy, e.router_entropy);
    push(record::kEvalLoad, load);
    push(record::kEvalRoutingChange, e.routing_change);
    push(record::kEvalCoactivation, e.coactivation);
  }
}

void RunRecord::set_final(const std::string& name, double value) { finals_[name] = value; }

int64_t RunRecord::steps() const { return int64_t(columns_.at(record::kTrainStep).rows()); }

double RunRecord::eval_seconds() const {
  double total = 0;
  for (double s : columns_.at(record::kEvalSeconds).real) total += s;
  return total;
}

std::optional<EvalRow> RunRecord::last_eval() const {
  const auto& steps = columns_.at(record::kEvalStep).whole;
  if (steps.empty()) return std::nullopt;
  const size_t last = steps.size() - 1;
  EvalRow row;
  row.step = steps[last];
  row.val_loss = columns_.at(record::kEvalValLoss).real[last];
  row.val_accuracy = columns_.at(record::kEvalValAccuracy).real[last];
  row.val_ppl = columns_.at(record::kEvalValPpl).real[last];
  if (config_.moe) row.expert_cv_mean = columns_.at(record::kEvalExpertCvMean).real[last];
  return row;
}

std::vector<double> RunRecord::row_means(const std::string& path) const {
  const auto it = columns_.find(path);
  if (it == columns_.end()) return {};
  const Column& c = it->second;
  const uint64_t width = c.width();
  std::vector<double> means(c.rows(), 0.0);
  for (size_t i = 0; i < means.size() * width; ++i) {
    means[i / width] += (c.kind == Kind::F64 ? c.real[i] : double(c.whole[i])) / double(width);
  }
  return means;
}

std::string RunRecord::serialize() const {
  ByteWriter out;
  out.put(uint64_t(columns_.size()));
  for (const auto& [path, c] : columns_) {
    out.put_string(path);
    out.put(c.kind);
    out.put_vector(c.row_shape);
    out.put_vector(c.real);
    out.put_vector(c.whole);
  }
  out.put(uint64_t(attributes_.size()));
  for (const auto& [name, value] : attributes_) {
    out.put_string(name);
    out.put(uint8_t(value.index()));
    if (value.index() == 0) out.put_string(std::get<std::string>(value));
    if (value.index() == 1) out.put(std::get<double>(value));
    if (value.index() == 2) out.put(std::get<int64_t>(value));
  }
  out.put(uint64_t(finals_.size()));
  for (const auto& [name, value] : finals_) {
    out.put_string(name);
    out.put(value);
  }
  return out.bytes();
}

void RunRecord::restore(const std::string& bytes, const std::string& source) {
  ByteReader in(bytes, source);
  const auto n_columns = in.get<uint64_t>();
  if (n_columns != columns_.size()) throw Error(source + ": its record rows do not fit this model's record layout");
  for (uint64_t i = 0; i < n_columns; ++i) {
    const std::string path = in.get_string();
    const auto it = columns_.find(path);
    if (it == columns_.end()) throw Error(source + ": its record has an unknown series " + path);
    Column c;
    c.kind = in.get<Kind>();
    c.row_shape = in.get_vector<uint64_t>();
    c.real = in.get_vector<double>();
    c.whole = in.get_vector<int64_t>();
    if (c.kind != it->second.kind || c.row_shape != it->second.row_shape) {
      throw Error(source + ": its record series " + path + " has another shape than this model's");
    }
    it->second = std::move(c);
  }
  attributes_.clear();
  for (auto n = in.get<uint64_t>(); n > 0; --n) {
    const std::string name = in.get_string();
    const auto kind = in.get<uint8_t>();
    if (kind == 0) attributes_[name] = in.get_string();
    if (kind == 1) attributes_[name] = in.get<double>();
    if (kind == 2) attributes_[name] = in.get<int64_t>();
  }
  finals_.clear();
  for (auto n = in.get<uint64_t>(); n > 0; --n) {
    const std::string name = in.get_string();
    finals_[name] = in.get<double>();
  }
}

void RunRecord::save(const std::string& path, const std::string& what) const {
  Hdf5Writer out;
  for (const auto& [name, value] : attributes_) {
    std::visit([&, n = name](const auto& v) { out.set_attribute("/", n, v); }, value);
  }
  for (const auto& [path_in_file, c] : columns_) {
    std::vector<uint64_t> shape{c.rows()};
    shape.insert(shape.end(), c.row_shape.begin(), c.row_shape.end());
    if (c.kind == Kind::F64) out.write_array<double>(path_in_file, shape, c.real.data());
    if (c.kind == Kind::I64) out.write_array<int64_t>(path_in_file, shape, c.whole.data());
    if (c.kind == Kind::U8) {
      const std::vector<uint8_t> bytes(c.whole.begin(), c.whole.end());
      out.write_array<uint8_t>(path_in_file, shape, bytes.data());
    }
  }
  for (const auto& [name, value] : finals_) out.write_array<double>("/final/" + name, {}, &value);
  out.save(path, what);
}

}  // namespace kmoe
