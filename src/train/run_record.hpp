// The run's HDF5 record (schema: docs/hdf5-schema.md). One row per optimizer update in
// /train and /router, one per evaluation in /eval, summary scalars in /final, run metadata as
// root attributes. Rows are flushed at every evaluation, so the file (named "<path>.partial"
// until the run ends) can be read while the run continues.
#pragma once

#include "io/hdf5_writer.hpp"
#include "model/moe_transformer.hpp"
#include "train/evaluation.hpp"

#include <memory>
#include <string>
#include <vector>

namespace kmoe {

struct TrainRow {
  int64_t step = 0, tokens = 0;
  double lr_muon = 0, lr_adamw = 0, aux_coef = 0, grad_norm = 0, ms_per_step = 0, tokens_per_s = 0;
  bool nonfinite = false;
  std::vector<double> routing_bias;  // [layer · expert] in force during the update (MoE)
};

class RunRecord {
 public:
  RunRecord(const std::string& path, const ModelConfig& config);

  // Copies the first rows of an earlier record of this run: /train and /router rows with
  // step <= last_step and /eval rows with step <= last_step (resume after a checkpoint).
  void replay(const std::string& earlier_path, int64_t last_step);

  Hdf5Writer& file() { return out_; }
  void append_step(const TrainRow& row, const ForwardResult& result);
  void append_eval(int64_t step, const EvalResult& eval, double best_val_ppl);
  void write_final(const std::string& name, double value);
  void flush() { out_.flush(); }
  // Sets the status and end time attributes, then renames the file into place.
  void close(const std::string& status);

 private:
  enum class Kind { F64, I64, U8 };
  struct Series {
    std::string path;
    Kind kind;
    std::vector<uint64_t> row_shape;
  };
  void add(const std::string& path, Kind kind, std::vector<uint64_t> row_shape = {});

  Hdf5Writer out_;
  ModelConfig config_;
  std::vector<Series> series_;
};

std::string utc_timestamp();

}  // namespace kmoe
