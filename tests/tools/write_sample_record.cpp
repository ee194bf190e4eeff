// Writes a small HDF5 record with known contents; tests/python/test_hdf5_writer.py reads it.
#include <iostream>
#include <vector>

#include "io/hdf5_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_sample_record OUT.h5\n";
    return 2;
  }
  kmoe::Hdf5Writer out;
  out.set_attribute("/", "status", std::string("running"));
  out.set_attribute("/", "deck", std::string("[run]\nname = \"sample\"\n"));
  out.set_attribute("/", "total_params", int64_t{79059840});
  out.set_attribute("/", "lr", 0.001);
  out.set_attribute("/final", "best_val_ppl", 12.5);

  std::vector<int64_t> step;
  std::vector<double> loss, load;  // load: [step, layer, expert]
  std::vector<uint8_t> nonfinite;
  for (int64_t s = 0; s < 5; ++s) {
    step.push_back(s);
    loss.push_back(10.0 - s);
    for (int i = 0; i < 6; ++i) load.push_back(100.0 * s + i);
    nonfinite.push_back(static_cast<uint8_t>(s == 3));
  }
  out.write_array<int64_t>("/train/step", {5}, step.data());
  out.write_array<double>("/train/loss", {5}, loss.data());
  out.write_array<double>("/router/load", {5, 2, 3}, load.data());
  out.write_array<uint8_t>("/train/nonfinite", {5}, nonfinite.data());
  const float weights[6] = {1, 2, 3, 4, 5, 6};
  out.write_array<float>("/weights/blocks.0.router", {3, 2}, weights);
  out.set_attribute("/", "status", std::string("complete"));  // replaces the first value
  out.save(argv[1], "record");
  return 0;
}
