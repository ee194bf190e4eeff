// Kokkos's lifetime for a program's main(), so that the programs include no Kokkos header (under
// nvcc_wrapper they are compiled by the host compiler, which their command-line library needs).
#pragma once

namespace kmoe {

class KokkosSession {
 public:
  // Takes Kokkos's own --kokkos-* arguments out of argv. OpenBLAS's and Kokkos's threads share
  // the cores unpinned unless OMP_PROC_BIND says otherwise.
  KokkosSession(int& argc, char** argv);
  ~KokkosSession();
  KokkosSession(const KokkosSession&) = delete;
  KokkosSession& operator=(const KokkosSession&) = delete;
};

}  // namespace kmoe
