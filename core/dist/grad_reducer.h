#pragma once
// Data parallelism's gradient reduction, as PyTorch's DistributedDataParallel does it. Each
// parameter's gradient is a view into a flat bucket (autograd accumulates into it in place:
// Tensor::set_grad_buffer), parameters fill buckets in reverse order (about the order in which
// the backward pass finishes them) up to bucket_bytes each, and during the backward pass of a
// step's last micro-batch each bucket's all-reduce starts as soon as its last gradient is
// ready (its grad-ready hook), in bucket order on every rank, while the backward pass goes on.
// The micro-batches before the last only accumulate: no communication.
//
// One step (core/train/trainer.cpp):
//   for each micro-batch m: out = task.train_loss(); loss_sum += out.loss
//                           if m is the last: reducer.arm(loss_sum / W)
//                           (out.loss / (grad_accum * W)).backward()
//   reducer.finish(stop_requested)  // what is left, the agreement, the wait
//   reducer.loss()                  // the global batch's loss sum; then clip and step
//
// Each rank's loss is the mean over its shard and is scaled by 1/W before its backward pass, so
// the summed gradient is the mean over ranks: the global batch's gradient when the shards are
// equal, which is what one process training on the global batch computes. The step's loss sum
// rides in the last bucket, so every rank logs the global loss and takes the same skip decision.
//
// finish(): a parameter that got no gradient on this rank during the step contributes zeros
// (its bucket could never complete otherwise). One host-side agreement (Communicator::any) then
// tells every rank which parameters got a gradient on any rank, and whether any rank was asked
// to stop: a parameter that no rank used keeps no gradient, as in one process (the optimizer
// skips it), and all ranks stop at the same step.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/dist/communicator.h"
#include "core/tensor/tensor.h"

namespace ff::dist {

// Bucket assignment: parameter indices per bucket, walking the parameters from the last to the
// first; a bucket closes when the next parameter has another dtype or would take it past
// bucket_bytes (a parameter larger than that has a bucket of its own).
std::vector<std::vector<size_t>> assign_buckets(const std::vector<Tensor>& params, int64_t bucket_bytes);

class GradReducer {
 public:
  // params: leaves that require grad, on comm.device(), each listed once (the same tensor twice is
  // merged). Registers a grad-ready hook and a gradient buffer on each; the destructor removes them.
  GradReducer(const std::vector<Tensor>& params, Communicator& comm, int64_t bucket_bytes);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  size_t num_buckets() const { return buckets_.size(); }
  // Parameter indices (into the merged parameter list) of each bucket, in launch order.
  std::vector<std::vector<size_t>> bucket_params() const;

  // Before the backward pass of a step's last micro-batch. loss_share: () this rank's share of
  // the step's loss sum (loss_sum / W), any floating dtype, on the parameters' device.
  void arm(const Tensor& loss_share);
  // After that backward pass (see above). stop_requested: this rank's wish to stop after the step.
  void finish(bool stop_requested);
  // () the step's loss sum over the global batch, valid until the next arm().
  const Tensor& loss() const { return loss_slot_; }
  // Whether any rank asked to stop in the last finish().
  bool stop_agreed() const { return stop_; }
  // After an error inside a step (one process): waits for what is in flight and disarms.
  void reset();

 private:
  struct Bucket {
    Tensor flat;                 // (elements [+ 1 for the loss in the last bucket])
    std::vector<size_t> params;  // indices into params_
    int64_t pending = 0;         // parameters not ready yet in this step
    std::unique_ptr<Work> work;
  };
  void on_ready(size_t index);
  void launch_in_order();
  void rearm_counts();

  Communicator& comm_;
  std::vector<Tensor> params_, views_;
  std::vector<int64_t> hooks_;
  std::vector<size_t> bucket_of_;
  std::vector<uint8_t> ready_, flags_;
  std::vector<Bucket> buckets_;
  Tensor loss_slot_;
  bool armed_ = false, stop_ = false;
  size_t next_ = 0;  // the next bucket to launch
};

// Copies rank `root`'s values into every rank's tensors (parameters and buffers at the start
// of a run), one broadcast each.
void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int root = 0);

}  // namespace ff::dist
