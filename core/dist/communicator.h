#pragma once
// Collectives over the processes of a job (one process per GPU, or per CPU rank), as every
// data-parallel framework has them, on three backends:
//
//   local  one process: every collective is the identity (the data-parallel machinery runs
//          unchanged with world size 1, and tests count its calls)
//   mpi    CPU tensors, Open MPI's non-blocking collectives (MPI_Iallreduce, ...)
//   nccl   CUDA tensors, NCCL on each device's communication stream (core/cuda/context.h),
//          ordered against the compute stream by events; the NCCL id travels through MPI when
//          the job was started by an MPI launcher, else through a rendezvous (rendezvous.h)
//
// Every rank calls the same collectives in the same order with tensors of the same shape and
// dtype (contiguous, on device()). A collective that does not complete within the timeout
// (a peer that died or hangs) stops the job with a message naming this rank, never a silent
// hang: mpi throws ff::Error from the waiting call (the app reports it and calls abort_job);
// nccl's watchdog thread aborts the NCCL communicator and exits.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/dist/launch.h"
#include "core/tensor/tensor.h"

namespace ff::dist {

enum class ReduceOp { Sum, Avg };

// A collective in flight. wait(): on the CPU returns once the result is in the tensor; on
// CUDA makes the device's compute stream wait for it (the host does not wait). The backend
// keeps the tensor alive until the collective is done; destroying a Work that was not waited
// for never blocks the host (on CUDA the compute stream still waits for it), so a step that
// unwinds from an error reaches abort_job at once.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

struct CommOptions {
  std::string backend = "local";  // local | mpi | nccl
  LaunchInfo launch;
  Device device;            // the tensors' device: cpu (local, mpi) or cuda:<local rank> (nccl)
  double timeout_s = 600;   // a collective not done after this long stops the job
  std::string rendezvous;   // nccl without MPI: "file:PATH" or "HOST:PORT" (FF_RENDEZVOUS)
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return launch_.rank; }
  int size() const { return launch_.world_size; }
  int local_rank() const { return launch_.local_rank; }
  const LaunchInfo& launch() const { return launch_; }
  Device device() const { return device_; }
  virtual std::string backend() const = 0;

  // t: any shape, in place: the element-wise sum (or mean) over ranks.
  void all_reduce(Tensor& t, ReduceOp op = ReduceOp::Sum);
  std::unique_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op = ReduceOp::Sum);
  // t: in place, root's values on every rank.
  void broadcast(Tensor& t, int root = 0);
  // t: (...) -> (size(), ...): rank r's tensor at index r.
  Tensor all_gather(const Tensor& t);
  void barrier();
  // Host flags, in place: the element-wise OR over ranks (agreeing on a stop, on which
  // parameters got a gradient). Costs no device synchronisation where MPI is there.
  void any(std::span<uint8_t> flags);
  // Lets asynchronous collectives advance (MPI moves non-blocking collectives inside its calls).
  virtual void progress() {}

  // Calls since construction, for tests and the benchmark.
  struct Counts {
    int64_t all_reduce = 0, broadcast = 0, all_gather = 0, barrier = 0, any = 0;
    int64_t all_reduce_bytes = 0;
  };
  const Counts& counts() const { return counts_; }

 protected:
  Communicator(const LaunchInfo& launch, Device device) : launch_(launch), device_(device) {}
  virtual std::unique_ptr<Work> do_all_reduce(const Tensor& t, ReduceOp op) = 0;
  virtual void do_broadcast(Tensor& t, int root) = 0;
  virtual void do_all_gather(const Tensor& in, Tensor& out) = 0;  // out: (size(), ...) allocated
  virtual void do_barrier() = 0;
  virtual void do_any(std::span<uint8_t> flags) = 0;

 private:
  void check_tensor(const Tensor& t, const char* what) const;
  LaunchInfo launch_;
  Device device_;
  Counts counts_;
};

// The backend options.backend names. ff::UserError when it is not built here (mpi without
// Open MPI at build time, nccl without CUDA) or does not fit (local with several processes).
std::unique_ptr<Communicator> make_communicator(const CommOptions& options);
// Whether this build has the backend ("local", "mpi", "nccl").
bool has_backend(const std::string& name);

// Adds `values` over the ranks in place (evaluation sums and counts); nothing when `comm` is
// null or alone.
void sum_over_ranks(Communicator* comm, std::span<double> values);

// How a fatal error of this rank is reported before the job stops (the apps print one line and
// append it to train.log); the NCCL watchdog calls it from its own thread.
void set_fatal_reporter(std::function<void(const std::string& message)> report);
void report_fatal(const std::string& message);

// Stops every process of the job after this one failed (the error is already reported):
// MPI_Abort when MPI is initialised (mpirun and srun then kill the others); otherwise aborts
// this process's NCCL communicators and exits, and the launcher (srun --kill-on-bad-exit) or
// the peers' own timeouts stop the rest.
[[noreturn]] void abort_job(int exit_code);
// Before a normal exit of a multi-process job: finalises MPI when it was initialised.
void finalize();
// Called by abort_job before exiting (backends register their aborts); returns an id for
// removal when the backend goes away.
int64_t add_abort_hook(std::function<void()> hook);
void remove_abort_hook(int64_t id);

}  // namespace ff::dist
