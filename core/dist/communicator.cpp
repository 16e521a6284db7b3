#include "core/dist/communicator.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/dist/backends.h"
#include "core/ops/view.h"

namespace ff::dist {
namespace {

// One process: every collective leaves its tensor as it is (the sum and the mean over one
// rank), all_gather adds a leading dimension of 1.
class LocalCommunicator : public Communicator {
 public:
  LocalCommunicator(const LaunchInfo& launch, Device device) : Communicator(launch, device) {}
  std::string backend() const override { return "local"; }

 protected:
  struct Done : Work {
    void wait() override {}
  };
  std::unique_ptr<Work> do_all_reduce(const Tensor&, ReduceOp) override { return std::make_unique<Done>(); }
  void do_broadcast(Tensor&, int) override {}
  void do_all_gather(const Tensor& in, Tensor& out) override {
    Tensor first = select(out, 0, 0);
    copy_(first, in);
  }
  void do_barrier() override {}
  void do_any(std::span<uint8_t>) override {}
};

std::mutex g_mutex;
std::function<void(const std::string&)> g_reporter;
std::vector<std::pair<int64_t, std::function<void()>>> g_abort_hooks;
int64_t g_next_hook = 0;

}  // namespace

void Communicator::check_tensor(const Tensor& t, const char* what) const {
  FF_CHECK(t.defined() && t.is_contiguous() && t.device() == device_,
           "{} ({} backend): expected a contiguous tensor on {}, got {}", what, backend(), device_.str(),
           t.defined() ? t.str() : std::string("an undefined tensor"));
}

void Communicator::all_reduce(Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }

std::unique_ptr<Work> Communicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  check_tensor(t, "all_reduce");
  ++counts_.all_reduce;
  counts_.all_reduce_bytes += t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
  return do_all_reduce(t, op);
}

void Communicator::broadcast(Tensor& t, int root) {
  check_tensor(t, "broadcast");
  FF_CHECK(root >= 0 && root < size(), "broadcast from rank {} in a world of {}", root, size());
  ++counts_.broadcast;
  do_broadcast(t, root);
}

Tensor Communicator::all_gather(const Tensor& t) {
  check_tensor(t, "all_gather");
  Shape shape = t.shape();
  shape.insert(shape.begin(), size());
  Tensor out = Tensor::empty(shape, t.dtype(), device_);
  ++counts_.all_gather;
  do_all_gather(t, out);
  return out;
}

void Communicator::barrier() {
  ++counts_.barrier;
  do_barrier();
}

void Communicator::any(std::span<uint8_t> flags) {
  ++counts_.any;
  for (uint8_t& f : flags) f = f != 0;
  do_any(flags);
}

bool has_backend(const std::string& name) {
  if (name == "local") return true;
#ifdef FF_WITH_MPI
  if (name == "mpi") return true;
#endif
#ifdef FF_WITH_CUDA
  if (name == "nccl") return true;
#endif
  return false;
}

std::unique_ptr<Communicator> make_communicator(const CommOptions& options) {
  const std::string& b = options.backend;
  FF_USER_CHECK(b == "local" || b == "mpi" || b == "nccl", "unknown communication backend '{}': expected local, mpi or nccl",
                b);
  FF_USER_CHECK(has_backend(b), "the {} backend is not built here ({})", b,
                b == "mpi" ? "Open MPI was not found at build time: install libopenmpi-dev (scripts/setup.sh) and rebuild"
                           : "a CUDA build is needed");
  if (b == "local") {
    FF_USER_CHECK(options.launch.world_size == 1, "the local backend runs one process; the launcher started {} ({})",
                  options.launch.world_size, describe(options.launch));
    return std::make_unique<LocalCommunicator>(options.launch, options.device);
  }
  if (b == "mpi") {
    FF_USER_CHECK(options.device.is_cpu(), "the mpi backend reduces CPU tensors; device {} needs the nccl backend",
                  options.device.str());
    return make_mpi_communicator(options);
  }
  FF_USER_CHECK(options.device.is_cuda(), "the nccl backend reduces CUDA tensors; device {} needs the mpi backend",
                options.device.str());
  return make_nccl_communicator(options);
}

void sum_over_ranks(Communicator* comm, std::span<double> values) {
  if (comm == nullptr || comm->size() == 1 || values.empty()) return;
  std::vector<double> host(values.begin(), values.end());
  Tensor t = to_device(Tensor::from_vector<double>(host, {static_cast<int64_t>(host.size())}), comm->device());
  comm->all_reduce(t, ReduceOp::Sum);
  const std::vector<double> summed = t.to_vector<double>();
  std::copy(summed.begin(), summed.end(), values.begin());
}

void set_fatal_reporter(std::function<void(const std::string&)> report) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_reporter = std::move(report);
}

void report_fatal(const std::string& message) {
  std::function<void(const std::string&)> report;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    report = g_reporter;
  }
  if (report)
    report(message);
  else
    std::fprintf(stderr, "%s\n", message.c_str());
}

int64_t add_abort_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_abort_hooks.emplace_back(g_next_hook, std::move(hook));
  return g_next_hook++;
}

void remove_abort_hook(int64_t id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::erase_if(g_abort_hooks, [id](const auto& entry) { return entry.first == id; });
}

void abort_job(int exit_code) {
  std::vector<std::pair<int64_t, std::function<void()>>> hooks;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    hooks = g_abort_hooks;
  }
  for (auto& [id, hook] : hooks) hook();
  std::fflush(stderr);
  std::fflush(stdout);
  mpi_abort_if_initialized(exit_code);
  std::_Exit(exit_code);
}

void finalize() { mpi_finalize_if_initialized(); }

}  // namespace ff::dist
