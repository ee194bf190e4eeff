// Two ranks make collective calls that match (`same`) or not (`mismatch`: rank 0 gathers, the
// others ask `any`), for tests/python/test_mpi_ranks.py to see the check catch the mismatch.
#include <cstring>
#include <iostream>

#include "core/communicator.hpp"

int main(int argc, char** argv) {
  const kmoe::MpiSession mpi(argc, argv);
  const auto& comm = kmoe::Communicator::world();
  const bool mismatch = argc > 1 && std::strcmp(argv[1], "mismatch") == 0;
  try {
    const double mine = comm.rank();
    double all[64] = {0};
    if (mismatch && comm.rank() != 0) {
      comm.any("stop requested", false);
    } else {
      comm.allgather("ranks", &mine, 1, all);
    }
  } catch (const std::exception& err) {
    std::cerr << "rank " << comm.rank() << ": " << err.what() << "\n";
    return 1;
  }
  return 0;
}
