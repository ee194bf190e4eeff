// The update's gradient as one fixed sum over its micro-batches, whatever the rank count.
// With grad_accum A = 2^j · q (q odd), the micro-batches form 2^j blocks of q consecutive ones;
// a block is accumulated in place by the backward passes (as a single process always did), and
// the blocks are added in a perfect binary tree: ((b0 + b1) + (b2 + b3)) … Ranks R = 2^i ≤ 2^j
// each take A / R consecutive micro-batches — a subtree — and the R subtree sums are gathered and
// added by the same tree on every rank. So 1, 2, 4 … ranks give the same bits; other rank counts
// are refused (allowed_rank_counts). Each rank receives the ranks' subtree sums only for the
// gradient elements it needs (its optimizer shard's: a reduce-scatter's movement, then the tree).
#pragma once

#include <string>
#include <vector>

#include "core/communicator.hpp"
#include "core/views.hpp"

namespace kmoe {

// The rank counts that keep the sum's tree: the powers of two dividing grad_accum.
std::vector<int> allowed_rank_counts(int grad_accum);
// "" when `ranks` may split `grad_accum` micro-batches, else why not and what would.
std::string rank_count_problem(int grad_accum, int ranks);

class GradientSum {
 public:
  // `grads` is where the backward passes accumulate (the parameters' gradient); rank r needs
  // the sum of the elements needed[r].
  GradientSum(const View1<float>& grads, int grad_accum, const Communicator& comm, std::vector<ElementRange> needed);

  // This rank's micro-batches of the update: [first(), first() + count()).
  int first() const { return first_; }
  int count() const { return count_; }
  // Around this rank's i-th micro-batch's backward (i in [0, count())).
  void before_backward(int i);
  void after_backward(int i);
  // Leaves the update's gradient sum in this rank's needed elements of `grads`, the same bits
  // on every rank and rank count.
  void finish();

 private:
  void push(const View1<float>& block);  // onto the tree: merges equal levels, left + right
  View1<float> grads_;
  const Communicator& comm_;
  std::vector<ElementRange> needed_;
  int block_ = 1, first_ = 0, count_ = 1;
  std::vector<View1<float>> stack_;  // partial sums, level stack_levels_[i]
  std::vector<int> stack_levels_;
  std::vector<View1<float>> spare_;  // buffers not in use
  View1<float> gathered_;            // [ranks · needed elements] the ranks' subtree sums
  View1<float>::HostMirror gathered_host_;
};

}  // namespace kmoe
