#include "core/kokkos_session.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>

namespace kmoe {

KokkosSession::KokkosSession(int& argc, char** argv) {
  setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::initialize(argc, argv);
}

KokkosSession::~KokkosSession() { Kokkos::finalize(); }

}  // namespace kmoe
