#include "core/dist/grad_reducer.h"

#include <set>

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/view.h"

namespace ff::dist {

std::vector<std::vector<size_t>> assign_buckets(const std::vector<Tensor>& params, int64_t bucket_bytes) {
  FF_CHECK(bucket_bytes > 0, "bucket size must be positive, got {}", bucket_bytes);
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  DType dtype = DType::F32;
  for (size_t k = params.size(); k-- > 0;) {
    const Tensor& p = params[k];
    const int64_t size = p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
    if (buckets.empty() || p.dtype() != dtype || (bytes > 0 && bytes + size > bucket_bytes)) {
      buckets.emplace_back();
      bytes = 0;
      dtype = p.dtype();
    }
    buckets.back().push_back(k);
    bytes += size;
  }
  return buckets;
}

GradReducer::GradReducer(const std::vector<Tensor>& params, Communicator& comm, int64_t bucket_bytes) : comm_(comm) {
  std::set<const AutogradMeta*> seen;
  for (const Tensor& p : params) {
    FF_CHECK(p.defined() && p.is_leaf() && p.requires_grad() && p.is_contiguous(),
             "data parallel: parameter {} must be a contiguous leaf that requires grad, got {}", params_.size(),
             p.str());
    FF_CHECK(p.device() == comm.device(), "data parallel: parameter {} is on {}, the communicator on {}",
             params_.size(), p.device().str(), comm.device().str());
    if (seen.insert(p.autograd_meta().get()).second) params_.push_back(p);
  }
  FF_CHECK(!params_.empty(), "data parallel: the model has no parameters");
  NoGradGuard no_grad;
  bucket_of_.resize(params_.size());
  views_.resize(params_.size());
  const std::vector<std::vector<size_t>> layout = assign_buckets(params_, bucket_bytes);
  for (size_t b = 0; b < layout.size(); ++b) {
    Bucket bucket;
    bucket.params = layout[b];
    int64_t elements = 0;
    for (size_t i : bucket.params) elements += params_[i].numel();
    const bool last = b + 1 == layout.size();
    bucket.flat = Tensor::zeros({elements + (last ? 1 : 0)}, params_[bucket.params[0]].dtype(), comm.device());
    int64_t offset = 0;
    for (size_t i : bucket.params) {
      const Tensor& p = params_[i];
      views_[i] = reshape(narrow(bucket.flat, 0, offset, p.numel()), p.shape());
      offset += p.numel();
      bucket_of_[i] = b;
      if (p.grad().defined()) {  // a gradient from before: moved into the bucket
        copy_(views_[i], p.grad());
        p.set_grad(views_[i]);
      }
      p.set_grad_buffer(views_[i]);
    }
    if (last) loss_slot_ = reshape(narrow(bucket.flat, 0, elements, 1), {});
    buckets_.push_back(std::move(bucket));
  }
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].add_grad_ready_hook([this, i](const Tensor&) { on_ready(i); }));
  rearm_counts();
}

GradReducer::~GradReducer() {
  // Works still in flight (a step that failed) are dropped without waiting (communicator.h).
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].remove_grad_ready_hook(hooks_[i]);
    params_[i].set_grad_buffer(Tensor());
  }
}

std::vector<std::vector<size_t>> GradReducer::bucket_params() const {
  std::vector<std::vector<size_t>> out;
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

void GradReducer::rearm_counts() {
  ready_.assign(params_.size(), 0);
  for (Bucket& b : buckets_) b.pending = static_cast<int64_t>(b.params.size());
  next_ = 0;
}

void GradReducer::arm(const Tensor& loss_share) {
  FF_CHECK(!armed_, "GradReducer::arm twice without finish()");
  NoGradGuard no_grad;
  FF_CHECK(loss_share.numel() == 1, "GradReducer::arm: a scalar loss share, got {}", loss_share.str());
  copy_(loss_slot_, reshape(to_dtype(loss_share.detach(), loss_slot_.dtype()), {}));
  armed_ = true;
}

void GradReducer::on_ready(size_t index) {
  if (!armed_ || ready_[index]) return;
  ready_[index] = 1;
  if (--buckets_[bucket_of_[index]].pending == 0) launch_in_order();
  comm_.progress();
}

// Buckets start in index order on every rank, whatever order their gradients finish in here:
// the ranks' collectives must match one for one.
void GradReducer::launch_in_order() {
  while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
    Bucket& b = buckets_[next_];
    b.work = comm_.all_reduce_async(b.flat, ReduceOp::Sum);
    ++next_;
  }
}

void GradReducer::finish(bool stop_requested) {
  FF_CHECK(armed_, "GradReducer::finish without arm()");
  NoGradGuard no_grad;
  flags_.assign(params_.size() + 1, 0);
  flags_[0] = stop_requested ? 1 : 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    // Used in this step: its hook fired in the last micro-batch, or an earlier one left a gradient.
    const bool used = ready_[i] || params_[i].grad().defined();
    flags_[i + 1] = used ? 1 : 0;
    if (ready_[i]) continue;
    if (!used) fill_(views_[i], 0.0);
    ready_[i] = 1;
    --buckets_[bucket_of_[i]].pending;
  }
  launch_in_order();
  FF_CHECK(next_ == buckets_.size(), "GradReducer: {} of {} buckets launched", next_, buckets_.size());
  comm_.any(flags_);
  for (Bucket& b : buckets_) {
    b.work->wait();
    b.work.reset();
  }
  for (size_t i = 0; i < params_.size(); ++i) params_[i].set_grad(flags_[i + 1] ? views_[i] : Tensor());
  stop_ = flags_[0] != 0;
  armed_ = false;
  rearm_counts();
}

void GradReducer::reset() {
  for (Bucket& b : buckets_)
    if (b.work) {
      b.work->wait();
      b.work.reset();
    }
  armed_ = false;
  rearm_counts();
}

void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int root) {
  for (const Tensor& t : tensors) {
    Tensor target = t;
    comm.broadcast(target, root);
  }
}

}  // namespace ff::dist
