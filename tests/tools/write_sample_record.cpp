// Writes a small HDF5 record with known contents; tests/python/test_hdf5_writer.py reads it.
#include "io/hdf5_writer.hpp"

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_sample_record OUT.h5\n";
    return 2;
  }
  kmoe::Hdf5Writer out(argv[1]);
  out.set_attribute("/", "status", std::string("running"));
  out.set_attribute("/", "deck", std::string("[run]\nname = \"sample\"\n"));
  out.set_attribute("/", "total_params", int64_t{79059840});
  out.set_attribute("/", "lr", 0.001);
  out.set_attribute("/final", "best_val_ppl", 12.5);

  out.create_series<int64_t>("/train/step", {});
  out.create_series<double>("/train/loss", {});
  out.create_series<double>("/router/load", {2, 3});  // [step, layer, expert]
  out.create_series<uint8_t>("/train/nonfinite", {});
  for (int64_t step = 0; step < 5; ++step) {
    out.append<int64_t>("/train/step", step);
    out.append<double>("/train/loss", 10.0 - step);
    double load[6];
    for (int i = 0; i < 6; ++i) load[i] = 100.0 * step + i;
    out.append<double>("/router/load", load);
    out.append<uint8_t>("/train/nonfinite", static_cast<uint8_t>(step == 3));
    if (step == 2) out.flush();
  }
  const float weights[6] = {1, 2, 3, 4, 5, 6};
  out.write_array<float>("/weights/blocks.0.router", {3, 2}, weights);
  out.set_attribute("/", "status", std::string("complete"));  // replaces the first value
  out.close();
  return 0;
}
