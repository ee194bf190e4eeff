#include "core/kokkos_session.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>

#include "core/communicator.hpp"
#include "core/kokkos_compat.hpp"

namespace kmoe {

KokkosSession::KokkosSession(int& argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);
  if (Communicator::world().size() > 1) spread_ranks_over_devices();
  Kokkos::initialize(argc, argv);
}

KokkosSession::~KokkosSession() { Kokkos::finalize(); }

}  // namespace kmoe
