// The nccl backend: CUDA tensors, one NCCL communicator over the job's GPUs (each process binds
// the GPU of its local rank). Collectives run on the device's communication stream after an
// event recorded on the compute stream, and the compute stream waits for an event recorded
// after them, so nothing between the two is a host synchronisation and a bucket's all-reduce
// overlaps the rest of the backward pass. A watchdog thread watches every collective's event:
// one not done within the timeout, or an asynchronous NCCL error (a peer that failed), aborts
// the communicator and exits with a message naming this rank.

#include "core/dist/backends.h"

#ifdef FF_WITH_CUDA
#include <fmt/format.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "core/cuda/context.h"
#include "core/dist/rendezvous.h"
#include "core/ops/view.h"
#include "kernels/cuda/cuda_check.h"

#define FF_NCCL_CHECK(call)                                                                   \
  do {                                                                                        \
    ncclResult_t ff_status_ = (call);                                                         \
    if (ff_status_ != ncclSuccess) [[unlikely]]                                               \
      ::ff::detail::throw_cuda(__FILE__, __LINE__, #call, ncclGetErrorString(ff_status_));    \
  } while (0)

namespace ff::dist {
namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    case DType::I32: return ncclInt32;
    case DType::I64: return ncclInt64;
    case DType::U8: return ncclUint8;
  }
  throw Error(fmt::format("nccl: no type for {}", dtype_name(dtype)));
}

// Watches the collectives in flight (in launch order) and an optional deadline of a blocking
// phase (the communicator's initialisation).
class Watchdog {
 public:
  Watchdog(int device, double timeout_s) : device_(device), timeout_s_(timeout_s) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void set_comm(ncclComm_t comm) {
    std::lock_guard<std::mutex> lock(mutex_);
    comm_ = comm;
  }
  void watch(std::shared_ptr<cuda::Event> done, std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.push_back({std::move(done), std::move(what), Clock::now()});
  }
  void arm(std::string phase) {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = std::move(phase);
    phase_start_ = Clock::now();
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_.clear();
  }

 private:
  struct Entry {
    std::shared_ptr<cuda::Event> done;
    std::string what;
    Clock::time_point start;
  };

  [[noreturn]] void fail(const std::string& message) {
    report_fatal(fmt::format("{}; stopping the job", message));
    if (comm_) ncclCommAbort(comm_);
    std::fflush(stderr);
    std::_Exit(1);
  }

  void loop() {
    cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
      const auto now = Clock::now();
      if (!phase_.empty() && std::chrono::duration<double>(now - phase_start_).count() > timeout_s_)
        fail(fmt::format("NCCL {} did not complete within {} s (train.distributed.timeout_s)", phase_, timeout_s_));
      while (!in_flight_.empty()) {
        const Entry& e = in_flight_.front();
        if (e.done->done()) {
          in_flight_.pop_front();
          continue;
        }
        if (std::chrono::duration<double>(now - e.start).count() > timeout_s_)
          fail(fmt::format("NCCL {} did not complete within {} s: a peer process is stuck or lost "
                           "(train.distributed.timeout_s)",
                           e.what, timeout_s_));
        break;
      }
      if (comm_) {
        ncclResult_t state = ncclSuccess;
        if (ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state != ncclSuccess && state != ncclInProgress)
          fail(fmt::format("NCCL reported an error: {} ({})", ncclGetErrorString(state), ncclGetLastError(comm_)));
      }
    }
  }

  int device_;
  double timeout_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  ncclComm_t comm_ = nullptr;
  std::deque<Entry> in_flight_;
  std::string phase_;
  Clock::time_point phase_start_;
  std::thread thread_;
};

// A collective in flight on the communication stream: wait() makes the compute stream wait.
class NcclWork : public Work {
 public:
  NcclWork(Tensor t, std::shared_ptr<cuda::Event> done, cudaStream_t compute)
      : t_(std::move(t)), done_(std::move(done)), compute_(compute) {}
  ~NcclWork() override {
    if (!waited_) try {
        wait();
      } catch (...) {
      }
  }
  void wait() override {
    if (waited_) return;
    done_->block(compute_);
    waited_ = true;
  }

 private:
  Tensor t_;  // alive until the compute stream waits: its storage is freed on that stream
  std::shared_ptr<cuda::Event> done_;
  cudaStream_t compute_;
  bool waited_ = false;
};

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const CommOptions& o)
      : Communicator(o.launch, o.device),
        dev_(o.device.index),
        timeout_s_(o.timeout_s),
        compute_(cuda::stream(dev_)),
        comm_stream_(cuda::comm_stream(dev_)),
        watchdog_(dev_, o.timeout_s) {
    with_mpi_ = mpi::usable(o.launch);
    if (with_mpi_) mpi::init(o.launch);
    ncclUniqueId id{};
    if (rank() == 0) FF_NCCL_CHECK(ncclGetUniqueId(&id));
    std::optional<Rendezvous> rendezvous;
    if (size() > 1) {
      std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(&id), reinterpret_cast<uint8_t*>(&id) + sizeof id);
      if (with_mpi_) {
        mpi::broadcast_bytes(bytes, 0, timeout_s_);
      } else {
        FF_USER_CHECK(!o.rendezvous.empty(),
                      "the nccl backend with {} processes needs the NCCL id passed around: start the job with mpirun "
                      "or srun --mpi=pmix, or set FF_RENDEZVOUS=file:PATH (a shared file system) or "
                      "FF_RENDEZVOUS=HOST:PORT (rank 0's node); docs/distributed.md",
                      size());
        rendezvous = parse_rendezvous(o.rendezvous);
        bytes = exchange_from_root(*rendezvous, rank(), size(), bytes, timeout_s_);
      }
      std::memcpy(&id, bytes.data(), sizeof id);
    }
    watchdog_.arm("initialisation");
    FF_NCCL_CHECK(ncclCommInitRank(&comm_, size(), id, rank()));
    watchdog_.disarm();
    watchdog_.set_comm(comm_);
    if (rendezvous && rank() == 0) finish_rendezvous(*rendezvous);
    ncclComm_t comm = comm_;
    abort_hook_ = add_abort_hook([comm] { ncclCommAbort(comm); });
  }

  ~NcclCommunicator() override {
    try {
      cuda::synchronize(dev_);
      FF_CUDA_CHECK(cudaStreamSynchronize(comm_stream_));
    } catch (...) {
    }
    remove_abort_hook(abort_hook_);
    watchdog_.set_comm(nullptr);
    ncclCommDestroy(comm_);
  }

  std::string backend() const override { return "nccl"; }

 protected:
  // Queues `launch(stream)` on the communication stream after the compute stream's work so far;
  // returns the event that marks its end (watched).
  template <typename Launch>
  std::shared_ptr<cuda::Event> on_comm_stream(const std::string& what, Launch&& launch) {
    cuda::Event ready(dev_);
    ready.record(compute_);
    ready.block(comm_stream_);
    launch(comm_stream_);
    auto done = std::make_shared<cuda::Event>(dev_);
    done->record(comm_stream_);
    watchdog_.watch(done, what);
    return done;
  }

  std::unique_ptr<Work> do_all_reduce(const Tensor& t, ReduceOp op) override {
    auto done = on_comm_stream(fmt::format("all-reduce #{}", counts().all_reduce), [&](cudaStream_t s) {
      FF_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                  op == ReduceOp::Avg ? ncclAvg : ncclSum, comm_, s));
    });
    return std::make_unique<NcclWork>(t, std::move(done), compute_);
  }

  void do_broadcast(Tensor& t, int root) override {
    auto done = on_comm_stream(fmt::format("broadcast #{}", counts().broadcast), [&](cudaStream_t s) {
      FF_NCCL_CHECK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                  root, comm_, s));
    });
    NcclWork(t, std::move(done), compute_).wait();
  }

  void do_all_gather(const Tensor& in, Tensor& out) override {
    auto done = on_comm_stream(fmt::format("all-gather #{}", counts().all_gather), [&](cudaStream_t s) {
      FF_NCCL_CHECK(ncclAllGather(in.raw_data(), out.raw_data(), static_cast<size_t>(in.numel()), nccl_type(in.dtype()),
                                  comm_, s));
    });
    NcclWork(out, std::move(done), compute_).wait();
  }

  // Without MPI, both go through the device: a one-element all-reduce the host waits for.
  void do_barrier() override {
    if (with_mpi_) return mpi::barrier(timeout_s_);
    Tensor one = Tensor::ones({1}, DType::F32, device());
    auto done = on_comm_stream("barrier", [&](cudaStream_t s) {
      FF_NCCL_CHECK(ncclAllReduce(one.raw_data(), one.raw_data(), 1, ncclFloat32, ncclSum, comm_, s));
    });
    done->synchronize();
  }

  void do_any(std::span<uint8_t> flags) override {
    if (with_mpi_) return mpi::any(flags, timeout_s_);
    std::vector<uint8_t> host(flags.begin(), flags.end());
    Tensor t = to_device(Tensor::from_vector<uint8_t>(host, {static_cast<int64_t>(host.size())}), device());
    auto done = on_comm_stream("flag agreement", [&](cudaStream_t s) {
      FF_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), host.size(), ncclUint8, ncclMax, comm_, s));
    });
    done->block(compute_);
    const std::vector<uint8_t> out = t.to_vector<uint8_t>();  // a host read (no MPI to do it on the host)
    std::copy(out.begin(), out.end(), flags.begin());
  }

 private:
  int dev_;
  double timeout_s_;
  cudaStream_t compute_, comm_stream_;
  bool with_mpi_ = false;
  ncclComm_t comm_ = nullptr;
  int64_t abort_hook_ = -1;
  Watchdog watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options) {
  return std::make_unique<NcclCommunicator>(options);
}

}  // namespace ff::dist

#else  // built without CUDA

namespace ff::dist {
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions&) {
  throw UserError("the nccl backend needs a CUDA build");
}
}  // namespace ff::dist

#endif
