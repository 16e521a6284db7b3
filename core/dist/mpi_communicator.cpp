// The mpi backend: CPU tensors through Open MPI's non-blocking collectives, each waited for by
// polling MPI_Test against a deadline, so a lost or stuck peer becomes an error naming this rank
// instead of a hang (Open MPI's own blocking calls wait forever). Errors come back as codes
// (MPI_ERRORS_RETURN) and become ff::Error with MPI's message.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <limits>
#include <thread>

#include "core/dist/backends.h"
#include "core/ops/elementwise.h"

#ifdef FF_WITH_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: Open MPI's C++ bindings need libmpi_cxx
#include <mpi.h>

namespace ff::dist {
namespace mpi {
namespace {

bool g_initialized_here = false;
MPI_Comm g_comm = MPI_COMM_NULL;  // a duplicate of MPI_COMM_WORLD, errors returned
int g_rank = 0, g_size = 1;

void check(int code, const std::string& what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(fmt::format("MPI {} failed: {}", what, std::string(text, length)));
}

// Waits for `request`, polling so that the wait is bounded: yields first (a collective among
// processes of one node completes in microseconds), then sleeps up to a millisecond at a time,
// which leaves the cores to the peers when processes outnumber them.
void wait(MPI_Request& request, double timeout_s, const std::string& what) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto pause = std::chrono::microseconds(0);
  for (int polls = 0;; ++polls) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_s)
      throw Error(fmt::format("MPI {} did not complete within {} s: a peer process is stuck or lost "
                              "(train.distributed.timeout_s)",
                              what, timeout_s));
    if (polls < 200) {
      std::this_thread::yield();
    } else {
      pause = std::min(pause + std::chrono::microseconds(20), std::chrono::microseconds(1000));
      std::this_thread::sleep_for(pause);
    }
  }
}

MPI_Datatype datatype(DType dtype) {
  switch (dtype) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::I32: return MPI_INT32_T;
    case DType::I64: return MPI_INT64_T;
    case DType::U8: return MPI_UINT8_T;
    default: break;
  }
  throw Error(fmt::format("the mpi backend has no {} reduction (f32, f64 and integers; bf16 needs nccl)",
                          dtype_name(dtype)));
}

int count_of(const Tensor& t) {
  FF_CHECK(t.numel() <= std::numeric_limits<int>::max(), "MPI collective of {} elements: more than an int counts",
           t.numel());
  return static_cast<int>(t.numel());
}

}  // namespace

bool usable(const LaunchInfo& launch) {
  return launch.by_mpi_launcher() || std::getenv("PMIX_RANK") != nullptr || std::getenv("PMI_RANK") != nullptr;
}

bool initialized() { return g_comm != MPI_COMM_NULL; }

void init(const LaunchInfo& launch) {
  if (initialized()) return;
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "initialisation");
    g_initialized_here = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &g_comm), "communicator duplication");
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(g_comm, &g_rank);
  MPI_Comm_size(g_comm, &g_size);
  FF_USER_CHECK(g_size == launch.world_size && g_rank == launch.rank,
                "MPI sees rank {} of {} but the launcher says {}: start the job with mpirun, or with srun --mpi=pmix "
                "(docs/distributed.md)",
                g_rank, g_size, describe(launch));
}

void broadcast_bytes(std::span<uint8_t> bytes, int root, double timeout_s) {
  MPI_Request request;
  check(MPI_Ibcast(bytes.data(), static_cast<int>(bytes.size()), MPI_UINT8_T, root, g_comm, &request), "broadcast");
  wait(request, timeout_s, "broadcast");
}

void barrier(double timeout_s) {
  MPI_Request request;
  check(MPI_Ibarrier(g_comm, &request), "barrier");
  wait(request, timeout_s, "barrier");
}

void any(std::span<uint8_t> flags, double timeout_s) {
  MPI_Request request;
  check(MPI_Iallreduce(MPI_IN_PLACE, flags.data(), static_cast<int>(flags.size()), MPI_UINT8_T, MPI_BOR, g_comm,
                       &request),
        "flag agreement");
  wait(request, timeout_s, "flag agreement");
}

}  // namespace mpi

namespace {

class MpiCommunicator;

// An MPI_Iallreduce in flight; the mean is the sum scaled once it has arrived. The
// communicator keeps it (and so its tensor) until MPI has finished with it: a caller that drops
// its handle without waiting (a step unwinding from an error, before abort_job) neither blocks
// nor frees memory that MPI still writes.
class MpiWork {
 public:
  MpiWork(Tensor t, ReduceOp op, double timeout_s, int size, std::string what)
      : t_(std::move(t)), op_(op), timeout_s_(timeout_s), size_(size), what_(std::move(what)) {}
  MPI_Request* request() { return &request_; }
  // Whether MPI is done with it (never waits).
  bool test() {
    if (request_ == MPI_REQUEST_NULL) return true;
    int flag = 0;
    MPI_Test(&request_, &flag, MPI_STATUS_IGNORE);
    return flag != 0;
  }
  void wait() {
    if (waited_) return;
    waited_ = true;
    mpi::wait(request_, timeout_s_, what_);
    if (op_ == ReduceOp::Avg) mul_(t_, 1.0 / static_cast<double>(size_));
  }

 private:
  Tensor t_;
  ReduceOp op_;
  double timeout_s_;
  int size_;
  std::string what_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool waited_ = false;
};

// The caller's handle on an MpiWork.
class MpiHandle : public Work {
 public:
  explicit MpiHandle(std::shared_ptr<MpiWork> work) : work_(std::move(work)) {}
  void wait() override { work_->wait(); }

 private:
  std::shared_ptr<MpiWork> work_;
};

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& o) : Communicator(o.launch, o.device), timeout_s_(o.timeout_s) {
    mpi::init(o.launch);
  }
  ~MpiCommunicator() override {
    for (auto& work : in_flight_) try {
        work->wait();
      } catch (...) {  // the job is failing already; the error was reported
      }
  }
  std::string backend() const override { return "mpi"; }

  // Outstanding requests advance only inside MPI calls: the grad-ready hooks call this between
  // the backward pass's nodes. Drops the collectives MPI has finished.
  void progress() override {
    std::erase_if(in_flight_, [](const std::shared_ptr<MpiWork>& work) { return work->test(); });
  }

 protected:
  std::unique_ptr<Work> do_all_reduce(const Tensor& t, ReduceOp op) override {
    const std::string what = fmt::format("all-reduce #{} ({} bytes)", counts().all_reduce,
                                         t.numel() * static_cast<int64_t>(dtype_size(t.dtype())));
    auto work = std::make_shared<MpiWork>(t, op, timeout_s_, size(), what);
    mpi::check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), mpi::count_of(t), mpi::datatype(t.dtype()), MPI_SUM,
                              mpi::g_comm, work->request()),
               what);
    progress();
    in_flight_.push_back(work);
    return std::make_unique<MpiHandle>(std::move(work));
  }

  void do_broadcast(Tensor& t, int root) override {
    MPI_Request request;
    mpi::check(MPI_Ibcast(t.raw_data(), mpi::count_of(t), mpi::datatype(t.dtype()), root, mpi::g_comm, &request),
               "broadcast");
    mpi::wait(request, timeout_s_, fmt::format("broadcast #{}", counts().broadcast));
  }

  void do_all_gather(const Tensor& in, Tensor& out) override {
    MPI_Request request;
    const MPI_Datatype type = mpi::datatype(in.dtype());
    mpi::check(MPI_Iallgather(in.raw_data(), mpi::count_of(in), type, out.raw_data(), mpi::count_of(in), type,
                              mpi::g_comm, &request),
               "all-gather");
    mpi::wait(request, timeout_s_, fmt::format("all-gather #{}", counts().all_gather));
  }

  void do_barrier() override { mpi::barrier(timeout_s_); }
  void do_any(std::span<uint8_t> flags) override { mpi::any(flags, timeout_s_); }

 private:
  double timeout_s_;
  std::vector<std::shared_ptr<MpiWork>> in_flight_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(options);
}

void mpi_abort_if_initialized(int exit_code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

void mpi_finalize_if_initialized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (mpi::g_initialized_here && !finalized) {
    if (mpi::g_comm != MPI_COMM_NULL) MPI_Comm_free(&mpi::g_comm);
    MPI_Finalize();
  }
}

}  // namespace ff::dist

#else  // built without Open MPI

namespace ff::dist {

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions&) {
  throw UserError("the mpi backend is not built here: install libopenmpi-dev (scripts/setup.sh) and rebuild");
}
namespace mpi {
bool usable(const LaunchInfo&) { return false; }
bool initialized() { return false; }
void init(const LaunchInfo&) { throw UserError("built without MPI"); }
void broadcast_bytes(std::span<uint8_t>, int, double) { throw Error("built without MPI"); }
void barrier(double) { throw Error("built without MPI"); }
void any(std::span<uint8_t>, double) { throw Error("built without MPI"); }
}  // namespace mpi
void mpi_abort_if_initialized(int) {}
void mpi_finalize_if_initialized() {}

}  // namespace ff::dist

#endif
