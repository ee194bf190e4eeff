#include "core/communicator.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef KMOE_HAVE_MPI
#include <mpi.h>
#endif

#include "core/error.hpp"

namespace kmoe {

namespace {
Communicator& world_communicator() {
  static Communicator world;
  return world;
}

// A launcher's rank-count variable: OpenMPI's mpirun, PMI/PMIx (srun --mpi=pmix, MPICH), Slurm.
bool launched_as_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}
}  // namespace

const Communicator& Communicator::world() { return world_communicator(); }

#ifdef KMOE_HAVE_MPI
void Communicator::check_same_call(const char* what, size_t n) const {
  if (!checking_ || size_ == 1) return;
  constexpr int kWidth = 64;  // the call's name and size, as text
  char mine[kWidth] = {0};
  std::snprintf(mine, kWidth, "%s (%zu values)", what, n);
  std::vector<char> all(size_t(kWidth) * size_);
  MPI_Allgather(mine, kWidth, MPI_CHAR, all.data(), kWidth, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < size_; ++r) {
    const char* theirs = all.data() + size_t(r) * kWidth;
    require(std::strncmp(theirs, all.data(), kWidth) == 0, "ranks disagree on a collective call: rank 0 calls " +
                                                               std::string(all.data()) + ", rank " + std::to_string(r) +
                                                               " calls " + std::string(theirs));
  }
}

namespace {
int mpi_count(size_t n) {
  require(n <= size_t(INT32_MAX), "an MPI message of more than 2^31 values");
  return int(n);
}

template <class T>
void gather_values(int size, const T* local, size_t n, T* all, MPI_Datatype type) {
  if (size == 1) {
    std::memcpy(all, local, n * sizeof(T));
    return;
  }
  MPI_Allgather(local, mpi_count(n), type, all, mpi_count(n), type, MPI_COMM_WORLD);
}

template <class T>
void share_ranges(int size, T* full, const std::vector<ElementRange>& owned, MPI_Datatype type) {
  if (size == 1) return;
  std::vector<int> counts, offsets;
  for (const auto& r : owned) {
    counts.push_back(mpi_count(r.size()));
    offsets.push_back(mpi_count(r.begin));
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, type, full, counts.data(), offsets.data(), type, MPI_COMM_WORLD);
}
}  // namespace

void Communicator::exchange(const char* what, const float* full, const std::vector<ElementRange>& want,
                            float* received) const {
  check_same_call(what, want.size());
  const ElementRange mine = want[size_t(rank_)];
  if (size_ == 1) {
    std::memcpy(received, full + mine.begin, mine.size() * sizeof(float));
    return;
  }
  std::vector<int> send_counts, send_offsets, receive_counts, receive_offsets;
  for (int r = 0; r < size_; ++r) {
    send_counts.push_back(mpi_count(want[size_t(r)].size()));
    send_offsets.push_back(mpi_count(want[size_t(r)].begin));
    receive_counts.push_back(mpi_count(mine.size()));
    receive_offsets.push_back(mpi_count(size_t(r) * mine.size()));
  }
  MPI_Alltoallv(full, send_counts.data(), send_offsets.data(), MPI_FLOAT, received, receive_counts.data(),
                receive_offsets.data(), MPI_FLOAT, MPI_COMM_WORLD);
}

void Communicator::share(const char* what, float* full, const std::vector<ElementRange>& owned) const {
  check_same_call(what, owned.size());
  share_ranges(size_, full, owned, MPI_FLOAT);
}

void Communicator::share(const char* what, double* full, const std::vector<ElementRange>& owned) const {
  check_same_call(what, owned.size());
  share_ranges(size_, full, owned, MPI_DOUBLE);
}

void Communicator::allgather(const char* what, const float* local, size_t n, float* all) const {
  check_same_call(what, n);
  gather_values(size_, local, n, all, MPI_FLOAT);
}

void Communicator::allgather(const char* what, const double* local, size_t n, double* all) const {
  check_same_call(what, n);
  gather_values(size_, local, n, all, MPI_DOUBLE);
}

bool Communicator::any(const char* what, bool flag) const {
  check_same_call(what, 1);
  if (size_ == 1) return flag;
  int mine = flag ? 1 : 0, some = 0;
  MPI_Allreduce(&mine, &some, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);  // an integer: any order gives the same
  return some != 0;
}

void Communicator::barrier(const char* what) const {
  check_same_call(what, 0);
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
}

MpiSession::MpiSession(int& argc, char**& argv) {
  if (!launched_as_ranks()) return;
  MPI_Init(&argc, &argv);
  started_ = true;
  auto& world = world_communicator();
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size_);
#ifndef NDEBUG
  world.checking_ = true;
#endif
  if (const char* check = std::getenv("KMOE_CHECK_COLLECTIVES")) world.checking_ = std::string(check) == "1";
}

MpiSession::~MpiSession() {
  if (started_) MPI_Finalize();
}
#else
void Communicator::allgather(const char*, const float* local, size_t n, float* all) const {
  std::memcpy(all, local, n * sizeof(float));
}
void Communicator::allgather(const char*, const double* local, size_t n, double* all) const {
  std::memcpy(all, local, n * sizeof(double));
}
void Communicator::exchange(const char*, const float* full, const std::vector<ElementRange>& want,
                            float* received) const {
  std::memcpy(received, full + want[0].begin, want[0].size() * sizeof(float));
}
void Communicator::share(const char*, float*, const std::vector<ElementRange>&) const {}
void Communicator::share(const char*, double*, const std::vector<ElementRange>&) const {}
bool Communicator::any(const char*, bool flag) const { return flag; }
void Communicator::barrier(const char*) const {}

MpiSession::MpiSession(int&, char**&) {
  require(!launched_as_ranks(), "this kmoe was built without MPI (KMOE_MPI=OFF): run it as one process");
}
MpiSession::~MpiSession() = default;
#endif

}  // namespace kmoe
