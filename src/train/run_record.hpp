// The run's HDF5 record (schema: docs/hdf5-schema.md). One row per optimizer update in
// /train and /router, one per evaluation in /eval, summary scalars in /final, run metadata as
// root attributes. The rows live in memory: save() writes the whole file atomically (the
// trainer saves "<record>.partial" at every evaluation and checkpoint, and the final file at
// the end), and serialize() puts them into checkpoints, so a resumed run rebuilds its record
// from the checkpoint, never from a file a crash may have left behind.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/moe_transformer.hpp"
#include "train/evaluation.hpp"

namespace kmoe {

struct TrainRow {
  int64_t step = 0, tokens = 0;
  double lr_muon = 0, lr_adamw = 0, aux_coef = 0, grad_norm = 0, ms_per_step = 0, tokens_per_s = 0;
  bool nonfinite = false;
  std::vector<double> routing_bias;  // [layer · expert] in force during the update (MoE)
};

// The scalars of one /eval row.
struct EvalRow {
  int64_t step = 0;
  double val_loss = 0, val_accuracy = 0, val_ppl = 0, expert_cv_mean = 0;
};

class RunRecord {
 public:
  explicit RunRecord(const ModelConfig& config);

  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, int64_t value);
  std::string string_attribute(const std::string& name) const;  // "" when absent

  void append_step(const TrainRow& row, const ForwardResult& result);
  void append_eval(int64_t step, const EvalResult& eval, double best_val_ppl, double seconds);
  void set_final(const std::string& name, double value);

  int64_t steps() const;        // /train rows
  double eval_seconds() const;  // wall time of every evaluation so far
  std::optional<EvalRow> last_eval() const;
  // A column as one number per row: the value, or the mean over a row of several (layers,
  // experts); empty when the record has no such column (dense models have no /router).
  std::vector<double> row_means(const std::string& path) const;

  // Rows, attributes and finals as bytes (for checkpoints), and back; restore() checks that
  // the state was written for a record of the same layout.
  std::string serialize() const;
  void restore(const std::string& bytes, const std::string& source);

  // Writes the whole record to `path` atomically; `what` names it in crash points and errors.
  void save(const std::string& path, const std::string& what) const;

 private:
  enum class Kind : uint8_t { F64, I64, U8 };
  struct Column {
    Kind kind = Kind::F64;
    std::vector<uint64_t> row_shape;
    std::vector<double> real;    // F64
    std::vector<int64_t> whole;  // I64 and U8
    uint64_t width() const;
    uint64_t rows() const { return (kind == Kind::F64 ? real.size() : whole.size()) / width(); }
  };
  void add(const std::string& path, Kind kind, std::vector<uint64_t> row_shape = {});
  void push(const std::string& path, const std::vector<double>& row);
  void push(const std::string& path, const std::vector<int64_t>& row);
  void push(const std::string& path, double value) { push(path, std::vector<double>{value}); }
  void push(const std::string& path, int64_t value) { push(path, std::vector<int64_t>{value}); }

  ModelConfig config_;
  std::map<std::string, Column> columns_;
  std::map<std::string, std::variant<std::string, double, int64_t>> attributes_;
  std::map<std::string, double> finals_;
};

std::string utc_timestamp();

}  // namespace kmoe
