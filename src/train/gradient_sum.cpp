#include "train/gradient_sum.hpp"

#include <utility>

#include "core/error.hpp"

namespace kmoe {

namespace {
int odd_part(int n) {
  while (n % 2 == 0) n /= 2;
  return n;
}

// left += right
void add_right(const View1<float>& left, const View1<float>& right) {
  Kokkos::parallel_for(
      "gradient_tree_add", Range(0, static_cast<int64_t>(left.extent(0))),
      KOKKOS_LAMBDA(int64_t i) { left(i) += right(i); });
}
}  // namespace

std::vector<int> allowed_rank_counts(int grad_accum) {
  std::vector<int> out;
  for (int r = 1; grad_accum % r == 0; r *= 2) out.push_back(r);
  return out;
}

std::string rank_count_problem(int grad_accum, int ranks) {
  for (int r : allowed_rank_counts(grad_accum)) {
    if (r == ranks) return "";
  }
  std::string allowed;
  for (int r : allowed_rank_counts(grad_accum)) allowed += (allowed.empty() ? "" : ", ") + std::to_string(r);
  return std::to_string(ranks) + " ranks cannot split train.grad_accum = " + std::to_string(grad_accum) +
         " micro-batches so that the result is the same on every rank count; allowed: " + allowed +
         " (the powers of two dividing grad_accum: each rank takes a subtree of the fixed sum)";
}

GradientSum::GradientSum(const View1<float>& grads, int grad_accum, const Communicator& comm,
                         std::vector<ElementRange> needed)
    : grads_(grads), comm_(comm), needed_(std::move(needed)), block_(odd_part(grad_accum)) {
  require(needed_.size() == size_t(comm.size()), "GradientSum: one needed range per rank");
  const std::string problem = rank_count_problem(grad_accum, comm.size());
  require(problem.empty(), problem);
  count_ = grad_accum / comm.size();
  first_ = comm.rank() * count_;
}

void GradientSum::before_backward(int i) {
  if (i % block_ == 0) Kokkos::deep_copy(grads_, 0.0f);
}

void GradientSum::after_backward(int i) {
  if ((i + 1) % block_ != 0 || count_ == block_) return;  // one block: it is the sum already
  View1<float> copy;
  if (spare_.empty()) {
    copy = View1<float>("gradient_tree_block", grads_.extent(0));
  } else {
    copy = spare_.back();
    spare_.pop_back();
  }
  Kokkos::deep_copy(copy, grads_);
  push(copy);
}

void GradientSum::push(const View1<float>& block) {
  stack_.push_back(block);
  stack_levels_.push_back(0);
  while (stack_.size() >= 2 && stack_levels_[stack_.size() - 1] == stack_levels_[stack_.size() - 2]) {
    add_right(stack_[stack_.size() - 2], stack_.back());
    spare_.push_back(stack_.back());
    stack_.pop_back();
    stack_levels_.pop_back();
    ++stack_levels_.back();
  }
}

void GradientSum::finish() {
  if (count_ != block_) {  // several blocks: the tree left one sum
    Kokkos::deep_copy(grads_, stack_.back());
    spare_.push_back(stack_.back());
    stack_.clear();
    stack_levels_.clear();
  }
  if (comm_.size() == 1) return;
  const ElementRange mine = needed_[size_t(comm_.rank())];
  const size_t n = mine.size();
  Kokkos::fence();  // the device's sum is complete before MPI reads its host copy
  const auto local = Kokkos::create_mirror_view_and_copy(HostSpace(), grads_);
  if (gathered_.extent(0) != n * comm_.size()) {  // once: every update receives the same sizes
    gathered_ =
        View1<float>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "gradient_tree_gathered"), n * comm_.size());
    gathered_host_ = Kokkos::create_mirror_view(gathered_);
  }
  comm_.exchange("gradient subtree sums", local.data(), needed_, gathered_host_.data());
  Kokkos::deep_copy(gathered_, gathered_host_);
  // The ranks' sums are the tree's subtrees in rank order: finish the tree over them.
  for (int width = 1; width < comm_.size(); width *= 2) {
    for (int left = 0; left + width < comm_.size(); left += 2 * width) {
      add_right(Kokkos::subview(gathered_, std::make_pair(left * n, (left + 1) * n)),
                Kokkos::subview(gathered_, std::make_pair((left + width) * n, (left + width + 1) * n)));
    }
  }
  Kokkos::deep_copy(Kokkos::subview(grads_, std::make_pair(mine.begin, mine.end)),
                    Kokkos::subview(gathered_, std::make_pair(size_t(0), n)));
}

}  // namespace kmoe
