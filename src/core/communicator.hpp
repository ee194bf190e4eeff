// The processes of one run: MPI ranks under mpirun or srun, or this process alone. The ranks
// only move data between each other (gather); every sum over ranks is done by the receiver in a
// fixed order, never by MPI on floating-point values, so no result depends on MPI's reduction
// order or on the rank count (docs/distributed.md).
#pragma once

#include <cstddef>
#include <vector>

#include "core/element_range.hpp"

namespace kmoe {

class Communicator {
 public:
  // This run's communicator: the MPI world when an MpiSession started MPI, else one rank.
  static const Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  // Each collective names its call site (`what`). With checking on (debug builds, or
  // KMOE_CHECK_COLLECTIVES=1), the ranks first compare what they are about to do, and a mismatch
  // — ranks in different calls, or with different sizes, which would hang or mix data — throws,
  // naming both calls.
  // all[r · n + i] = rank r's local[i], on every rank.
  void allgather(const char* what, const float* local, size_t n, float* all) const;
  void allgather(const char* what, const double* local, size_t n, double* all) const;
  // Rank r receives the elements want[r] of every rank's `full`, in rank order:
  // received[s · want[r].size() + i] = rank s's full[want[r].begin + i] (a reduce-scatter's data
  // movement, without the reduction).
  void exchange(const char* what, const float* full, const std::vector<ElementRange>& want, float* received) const;
  // Every rank's elements owned[rank] of `full` to every rank (the ranges are disjoint).
  void share(const char* what, float* full, const std::vector<ElementRange>& owned) const;
  void share(const char* what, double* full, const std::vector<ElementRange>& owned) const;
  // Whether any rank passed true (every rank gets the same answer).
  bool any(const char* what, bool flag) const;
  void barrier(const char* what) const;

 private:
  friend class MpiSession;
  void check_same_call(const char* what, size_t n) const;
  int rank_ = 0, size_ = 1;
  bool checking_ = false;
};

// MPI's lifetime for a program's main(), before Kokkos's: MPI starts only when a launcher
// (mpirun, srun) started this process, so a plain run needs no MPI at all.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool started_ = false;
};

}  // namespace kmoe
