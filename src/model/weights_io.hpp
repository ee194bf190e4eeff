// Weights interchange: one HDF5 dataset per tensor, row-major, Linear weights [out, in], with
// the names of shared/reference/torch_moe.py (tok_emb, blocks.{l}.wq, ...).
#pragma once

#include <string>

#include "model/parameter_registry.hpp"

namespace kmoe {

// Writes every tensor of `params` (as float, or double for a double model) to `path`.
template <class T>
void save_weights(const ParameterSet<T>& params, const std::string& path);

// Loads every tensor from `path`; a missing tensor or a shape mismatch is an error naming
// the file, the tensor and both shapes.
template <class T>
void load_weights(ParameterSet<T>& params, const std::string& path);

}  // namespace kmoe
