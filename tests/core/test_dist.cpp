// core/dist in one process: the launcher's variables, the rendezvous, bucket assignment, the
// gradient reducer over the local backend, and the nccl backend with world size 1 (on a GPU).
// The mpi backend with several processes is tested under mpirun (tests/apps/dist_apps_test.cpp).

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "core/autograd/autograd.h"
#include "core/dist/communicator.h"
#include "core/dist/grad_reducer.h"
#include "core/dist/launch.h"
#include "core/dist/rendezvous.h"
#include "core/ops/ops.h"
#include "support/skip.h"

using namespace ff;
using namespace ff::dist;
namespace fs = std::filesystem;

TEST_CASE("launch_info reads explicit, mpirun and srun variables in that order", "[dist]") {
  CHECK(launch_info({}).world_size == 1);
  CHECK(launch_info({}).launcher.empty());

  const LaunchInfo mpirun = launch_info({{"OMPI_COMM_WORLD_RANK", "2"},
                                         {"OMPI_COMM_WORLD_SIZE", "4"},
                                         {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                                         {"SLURM_PROCID", "7"},
                                         {"SLURM_STEP_NUM_TASKS", "8"}});
  CHECK(mpirun.rank == 2);
  CHECK(mpirun.world_size == 4);
  CHECK(mpirun.local_rank == 0);
  CHECK(mpirun.launcher == "mpirun");
  CHECK(describe(mpirun) == "rank 2 of 4 (mpirun)");

  const LaunchInfo srun =
      launch_info({{"SLURM_PROCID", "5"}, {"SLURM_STEP_NUM_TASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS", "8"}});
  CHECK(srun.rank == 5);
  CHECK(srun.world_size == 8);
  CHECK(srun.local_rank == 1);
  CHECK(srun.launcher == "srun");

  // A batch script (no job step) is one process whatever the allocation holds.
  CHECK(launch_info({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}}).world_size == 1);

  const LaunchInfo by_hand = launch_info(
      {{"FF_RANK", "1"}, {"FF_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "3"}});
  CHECK(by_hand.rank == 1);
  CHECK(by_hand.world_size == 2);
  CHECK(by_hand.local_rank == 0);
  CHECK(by_hand.launcher == "FF_RANK");
}

TEST_CASE("launch_info refuses incomplete, malformed or out-of-range variables", "[dist]") {
  CHECK_THROWS_WITH(launch_info({{"FF_RANK", "1"}}), Catch::Contains("FF_WORLD_SIZE is not"));
  CHECK_THROWS_WITH(launch_info({{"FF_RANK", "2"}, {"FF_WORLD_SIZE", "2"}}),
                    Catch::Contains("FF_RANK=2 must be below FF_WORLD_SIZE=2"));
  CHECK_THROWS_WITH(launch_info({{"OMPI_COMM_WORLD_RANK", "x1"}, {"OMPI_COMM_WORLD_SIZE", "2"}}),
                    Catch::Contains("OMPI_COMM_WORLD_RANK='x1': expected a whole number"));
  CHECK_THROWS_AS(launch_info({{"FF_RANK", "0"}, {"FF_WORLD_SIZE", "2"}, {"FF_LOCAL_RANK", "2"}}), UserError);
}

TEST_CASE("local_gpu binds the local rank's GPU, or the only one a process sees", "[dist]") {
  const LaunchInfo third{.rank = 10, .world_size = 16, .local_rank = 2, .launcher = "srun"};
  CHECK(local_gpu(third, 8) == 2);
  CHECK(local_gpu(third, 1) == 0);
  CHECK_THROWS_WITH(local_gpu(third, 2), Catch::Contains("local rank 2 has no GPU of its own: this node has 2"));
}

TEST_CASE("parse_rendezvous accepts file:PATH and HOST:PORT and refuses anything else", "[dist]") {
  const Rendezvous file = parse_rendezvous("file:/shared/job-42.id");
  CHECK(file.kind == Rendezvous::Kind::File);
  CHECK(file.path == "/shared/job-42.id");
  const Rendezvous tcp = parse_rendezvous("node017:29500");
  CHECK(tcp.kind == Rendezvous::Kind::Tcp);
  CHECK(tcp.host == "node017");
  CHECK(tcp.port == 29500);
  const Rendezvous v6 = parse_rendezvous("tcp://[::1]:7000");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  CHECK_THROWS_WITH(parse_rendezvous("node017"), Catch::Contains("expected file:PATH"));
  CHECK_THROWS_WITH(parse_rendezvous("node017:http"), Catch::Contains("the port 'http'"));
  CHECK_THROWS_WITH(parse_rendezvous("node017:70000"), Catch::Contains("not in [1, 65535]"));
  CHECK_THROWS_AS(parse_rendezvous("file:"), UserError);
}

namespace {

CommOptions options(const std::string& backend, Device device, LaunchInfo launch = {}) {
  CommOptions o;
  o.backend = backend;
  o.device = device;
  o.launch = launch;
  return o;
}

// Runs exchange_from_root for `world` ranks, one thread each; returns what each rank received.
std::vector<std::vector<uint8_t>> exchange(const Rendezvous& where, int world, const std::vector<uint8_t>& value) {
  std::vector<std::vector<uint8_t>> got(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      got[r] = exchange_from_root(where, r, world, r == 0 ? value : std::vector<uint8_t>(value.size(), 0), 20.0);
    });
  for (auto& t : threads) t.join();
  return got;
}

}  // namespace

TEST_CASE("a file rendezvous hands rank 0's value to every rank and refuses a leftover file", "[dist]") {
  const fs::path dir = fs::temp_directory_path() / ("ff-dist-rdv-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Rendezvous where = parse_rendezvous("file:" + (dir / "id").string());
  const std::vector<uint8_t> value = {1, 2, 3, 250, 0, 7};
  for (const auto& got : exchange(where, 3, value)) CHECK(got == value);
  // A file left by an earlier job must not pair this job with it.
  CHECK_THROWS_WITH(exchange_from_root(where, 0, 2, value, 1.0), Catch::Contains("exists already"));
  finish_rendezvous(where);
  CHECK_FALSE(fs::exists(dir / "id"));
  fs::remove_all(dir);
}

TEST_CASE("a TCP rendezvous hands rank 0's value to every rank", "[dist]") {
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  const Rendezvous where = parse_rendezvous("127.0.0.1:" + std::to_string(port));
  std::vector<uint8_t> value(128);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(i * 7 + 3);
  for (const auto& got : exchange(where, 3, value)) CHECK(got == value);
}

TEST_CASE("a rendezvous whose root never comes fails within its timeout", "[dist]") {
  const fs::path path = fs::temp_directory_path() / ("ff-dist-absent-" + std::to_string(::getpid()));
  CHECK_THROWS_WITH(exchange_from_root(parse_rendezvous("file:" + path.string()), 1, 2, {0, 0}, 0.2),
                    Catch::Contains("rank 0 did not write it within 0.2 s"));
}

TEST_CASE("assign_buckets fills buckets from the last parameter up to the byte limit", "[dist]") {
  // f32 sizes in bytes: 40, 400, 8, 40, 200.
  const std::vector<Tensor> params = {Tensor::zeros({10}), Tensor::zeros({10, 10}), Tensor::zeros({2}),
                                      Tensor::zeros({10}), Tensor::zeros({50})};
  using Buckets = std::vector<std::vector<size_t>>;
  CHECK(assign_buckets(params, 256) == Buckets{{4, 3, 2}, {1}, {0}});  // 248 bytes, then 400 alone
  CHECK(assign_buckets(params, 1 << 20) == Buckets{{4, 3, 2, 1, 0}});
  CHECK(assign_buckets(params, 1) == Buckets{{4}, {3}, {2}, {1}, {0}});
  // A dtype change closes a bucket.
  const std::vector<Tensor> mixed = {Tensor::zeros({4}), Tensor::zeros({4}, DType::F64), Tensor::zeros({4})};
  CHECK(assign_buckets(mixed, 1 << 20) == Buckets{{2}, {1}, {0}});
}

namespace {

// Three leaves: w (4), b (2), spare (3; unused unless asked). loss = sum((w * x)^2) + sum(b * c).
struct Leaves {
  Tensor w = Tensor::from_vector<float>({1, 2, 3, 4}, {4}).set_requires_grad(true);
  Tensor b = Tensor::from_vector<float>({0.5f, -1}, {2}).set_requires_grad(true);
  Tensor spare = Tensor::ones({3}).set_requires_grad(true);
  std::vector<Tensor> all() const { return {w, b, spare}; }
};

Tensor micro_batch_loss(const Leaves& p, float x, float c) {
  Tensor wx = mul(p.w, static_cast<double>(x));
  return add(sum(mul(wx, wx)), sum(mul(p.b, static_cast<double>(c))));
}

}  // namespace

TEST_CASE("the gradient reducer reduces once per bucket per step, into views of its buckets", "[dist]") {
  Leaves p;
  std::unique_ptr<Communicator> comm = make_communicator(options("local", Device::cpu()));
  GradReducer reducer(p.all(), *comm, /*bucket_bytes=*/12);  // spare (12 bytes) alone, then b, then w
  REQUIRE(reducer.num_buckets() == 3);
  CHECK(reducer.bucket_params() == std::vector<std::vector<size_t>>{{2}, {1}, {0}});

  for (int step = 0; step < 2; ++step) {
    const int64_t before = comm->counts().all_reduce;
    // Two micro-batches: the first only accumulates, the second launches the buckets.
    micro_batch_loss(p, 1.0f, 2.0f).backward();
    CHECK(comm->counts().all_reduce == before);
    reducer.arm(Tensor::scalar(3.5));
    micro_batch_loss(p, 2.0f, -1.0f).backward();
    reducer.finish(/*stop_requested=*/false);
    CHECK(comm->counts().all_reduce == before + 3);
    CHECK(reducer.loss().item() == 3.5f);
    CHECK_FALSE(reducer.stop_agreed());

    // d/dw sum((w x)^2) = 2 x^2 w, summed over x = 1 and x = 2: 10 w; d/db = c summed: 1.
    CHECK(p.w.grad().to_vector<float>() == std::vector<float>{10, 20, 30, 40});
    CHECK(p.b.grad().to_vector<float>() == std::vector<float>{1, 1});
    CHECK_FALSE(p.spare.grad().defined());  // no gradient anywhere: none after the reduction
    // w and b accumulate in place in their buckets: no allocation of their own.
    const Tensor w_grad = p.w.grad();
    micro_batch_loss(p, 1.0f, 0.0f).backward();
    CHECK(p.w.grad().storage() == w_grad.storage());
    // As the optimizer does between steps.
    for (const Tensor& t : p.all()) t.set_grad(Tensor());
  }
}

TEST_CASE("the gradient reducer completes a bucket whose parameter got no gradient", "[dist]") {
  Leaves p;
  std::unique_ptr<Communicator> comm = make_communicator(options("local", Device::cpu()));
  GradReducer reducer(p.all(), *comm, /*bucket_bytes=*/1 << 20);  // one bucket: w, b and spare
  REQUIRE(reducer.num_buckets() == 1);
  reducer.arm(Tensor::scalar(1.0));
  micro_batch_loss(p, 1.0f, 1.0f).backward();  // spare's hook never fires
  reducer.finish(true);
  CHECK(comm->counts().all_reduce == 1);
  CHECK(reducer.stop_agreed());
  CHECK(p.w.grad().to_vector<float>() == std::vector<float>{2, 4, 6, 8});
  CHECK_FALSE(p.spare.grad().defined());
}

TEST_CASE("the local backend's collectives leave tensors as they are", "[dist]") {
  std::unique_ptr<Communicator> comm = make_communicator(options("local", Device::cpu()));
  CHECK(comm->rank() == 0);
  CHECK(comm->size() == 1);
  Tensor t = Tensor::from_vector<float>({1, 2, 3}, {3});
  comm->all_reduce(t, ReduceOp::Avg);
  comm->broadcast(t, 0);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
  const Tensor gathered = comm->all_gather(t);
  CHECK(gathered.shape() == Shape{1, 3});
  CHECK(gathered.to_vector<float>() == std::vector<float>{1, 2, 3});
  std::vector<uint8_t> flags = {0, 3};
  comm->any(flags);
  CHECK(flags == std::vector<uint8_t>{0, 1});
  comm->barrier();
  CHECK(comm->counts().all_reduce == 1);
  CHECK(comm->counts().all_reduce_bytes == 12);
  CHECK(comm->counts().broadcast == 1);
  CHECK(comm->counts().all_gather == 1);
  CHECK(comm->counts().barrier == 1);
}

TEST_CASE("make_communicator refuses a backend that does not exist or does not fit", "[dist]") {
  CHECK_THROWS_WITH(make_communicator(options("gloo", Device::cpu())),
                    Catch::Contains("unknown communication backend 'gloo'"));
  LaunchInfo two{.rank = 0, .world_size = 2, .local_rank = 0, .launcher = "FF_RANK"};
  CHECK_THROWS_WITH(make_communicator(options("local", Device::cpu(), two)),
                    Catch::Contains("the local backend runs one process"));
  if (has_backend("nccl"))
    CHECK_THROWS_WITH(make_communicator(options("nccl", Device::cpu())),
                      Catch::Contains("the nccl backend reduces CUDA tensors"));
}

TEST_CASE("the nccl backend with world size 1 reduces, broadcasts and gathers on the GPU", "[dist][cuda]") {
  FF_REQUIRE_CUDA();
  std::unique_ptr<Communicator> comm = make_communicator(options("nccl", Device::cuda(0)));
  CHECK(comm->backend() == "nccl");
  Tensor t = to_device(Tensor::from_vector<float>({1, 2, 3}, {3}), Device::cuda(0));
  comm->all_reduce(t, ReduceOp::Sum);
  comm->all_reduce(t, ReduceOp::Avg);
  comm->broadcast(t, 0);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(comm->all_gather(t).to_vector<float>() == std::vector<float>{1, 2, 3});
  std::vector<uint8_t> flags = {1, 0};
  comm->any(flags);
  CHECK(flags == std::vector<uint8_t>{1, 0});
  comm->barrier();

  // The reducer's buckets on the communication stream, ordered against the compute stream.
  Leaves host;
  Leaves p;
  p.w = to_device(host.w.detach(), Device::cuda(0)).set_requires_grad(true);
  p.b = to_device(host.b.detach(), Device::cuda(0)).set_requires_grad(true);
  p.spare = to_device(host.spare.detach(), Device::cuda(0)).set_requires_grad(true);
  GradReducer reducer(p.all(), *comm, 12);
  micro_batch_loss(p, 1.0f, 2.0f).backward();
  reducer.arm(to_device(Tensor::scalar(2.0), Device::cuda(0)));
  micro_batch_loss(p, 2.0f, -1.0f).backward();
  reducer.finish(false);
  CHECK(comm->counts().all_reduce == 2 + 3);
  CHECK(p.w.grad().to_vector<float>() == std::vector<float>{10, 20, 30, 40});
  CHECK(p.b.grad().to_vector<float>() == std::vector<float>{1, 1});
  CHECK_FALSE(p.spare.grad().defined());
  CHECK(reducer.loss().item() == 2.0f);
}
