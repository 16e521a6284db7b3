// CUDA fused attention against the CPU implementation (itself checked against the float64
// oracle in test_attention_cpu.cpp), forward and backward, over every option. Skipped where
// there is no GPU.

#include <catch2/catch.hpp>

#include "support/skip.h"

#if defined(FF_WITH_CUDA)

#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cuda/cuda_check.h"
#include "test_attention_oracle.h"

using namespace ff::test::attention;
using ff::kernels::AttentionScore;

namespace {

// A device copy of a host vector; outputs start as NaN (all bits set) so an element the
// kernels forget to write fails the comparison.
class DeviceVector {
 public:
  explicit DeviceVector(const std::vector<float>& host, bool poison = false) : n_(host.size()) {
    FF_CUDA_CHECK(cudaMalloc(&ptr_, std::max<std::size_t>(n_, 1) * sizeof(float)));
    if (poison)
      FF_CUDA_CHECK(cudaMemset(ptr_, 0xff, n_ * sizeof(float)));
    else
      FF_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(float), cudaMemcpyHostToDevice));
  }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;
  ~DeviceVector() { cudaFree(ptr_); }
  float* get() { return ptr_; }
  void copy_to(std::vector<float>& host) const {
    FF_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(float), cudaMemcpyDeviceToHost));
  }

 private:
  float* ptr_ = nullptr;
  std::size_t n_;
};

std::string describe(const Options& o) {
  return fmt::format("{} B={} H={} Nq={} Nk={} D={} causal={} R_per_dim={} eps={} bnhd={}",
                     o.score == AttentionScore::Fourier ? "fourier" : "dot", o.B, o.H, o.Nq, o.Nk,
                     o.D, o.causal, o.R_per_dim, o.eps, o.bnhd);
}

// Runs forward (with probs) and backward on the GPU; results land in run's host vectors.
void run_cuda(const Problem& pr, HostRun<float>& run) {
  DeviceVector q(run.q), k(run.k), v(run.v), R(run.R), dout(run.dout);
  DeviceVector out(run.out, true), lse(run.lse, true), probs(run.probs, true);
  DeviceVector dq(run.dq, true), dk(run.dk, true), dv(run.dv, true), dR(run.dR);
  auto bp = run.backward_params(pr);
  auto& p = bp.fwd;
  p.q = q.get();
  p.k = k.get();
  p.v = v.get();
  p.R = R.get();
  p.out = out.get();
  p.lse = lse.get();
  p.probs = probs.get();
  ff::kernels::cuda::attention_forward(ff::kernels::cuda::Exec{}, p);
  p.probs = nullptr;
  bp.dout = dout.get();
  bp.dq = dq.get();
  bp.dk = dk.get();
  bp.dv = dv.get();
  bp.dR = dR.get();
  ff::kernels::cuda::attention_backward(ff::kernels::cuda::Exec{}, bp);
  FF_CUDA_CHECK(cudaDeviceSynchronize());
  out.copy_to(run.out);
  lse.copy_to(run.lse);
  probs.copy_to(run.probs);
  dq.copy_to(run.dq);
  dk.copy_to(run.dk);
  dv.copy_to(run.dv);
  dR.copy_to(run.dR);
}

std::vector<double> to_double(const std::vector<float>& x) { return {x.begin(), x.end()}; }

void check_cuda_against_cpu(const Problem& pr, double tol = 1e-4) {
  INFO(describe(pr.opt));
  HostRun<float> cpu(pr), gpu(pr);
  ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, cpu.forward_params(pr, true));
  ff::kernels::cpu::attention_backward(ff::kernels::cpu::Exec{}, cpu.backward_params(pr));
  run_cuda(pr, gpu);
  CHECK(all_finite(gpu.out));
  CHECK(all_finite(gpu.dq));
  CHECK(all_finite(gpu.dk));
  CHECK(all_finite(gpu.dv));
  CHECK(all_finite(gpu.dR));
  CHECK(rel_error(gpu.out, to_double(cpu.out)) < tol);
  CHECK(rel_error(gpu.probs, to_double(cpu.probs)) < tol);
  CHECK(rel_error(gpu.dq, to_double(cpu.dq)) < tol);
  CHECK(rel_error(gpu.dk, to_double(cpu.dk)) < tol);
  CHECK(rel_error(gpu.dv, to_double(cpu.dv)) < tol);
  if (pr.opt.score == AttentionScore::Fourier) CHECK(rel_error(gpu.dR, to_double(cpu.dR)) < tol);
  for (std::size_t i = 0; i < cpu.lse.size(); ++i) {
    if (std::isinf(cpu.lse[i]))
      CHECK(gpu.lse[i] == cpu.lse[i]);
    else
      CHECK(gpu.lse[i] == Approx(cpu.lse[i]).margin(1e-4));
  }
}

}  // namespace

TEST_CASE("attention cuda matches cpu for every option and head dim", "[attention][cuda]") {
  FF_REQUIRE_CUDA();
  std::uint64_t seed = 2000;
  for (int D : {16, 32, 48, 64, 24, 7, 100})
    for (auto score : {AttentionScore::Fourier, AttentionScore::Dot})
      for (bool causal : {false, true})
        for (int variant = 0; variant < 3; ++variant) {
          Options o;
          o.B = 2;
          o.H = 3;
          o.D = D;
          o.score = score;
          o.causal = causal;
          o.Nq = variant == 1 ? 45 : 70;   // no size divides a tile
          o.Nk = variant == 1 ? 101 : 70;  // variant 1: memory keys before the segment
          o.R_per_dim = variant != 0;
          o.bnhd = variant == 2;
          o.eps = variant == 2 ? 0.0 : 1e-6;
          check_cuda_against_cpu(make_problem(o, seed++, 0.25, 2.0));
        }
}

TEST_CASE("attention cuda: long sequences span many tiles and blocks", "[attention][cuda]") {
  FF_REQUIRE_CUDA();
  for (auto score : {AttentionScore::Fourier, AttentionScore::Dot}) {
    Options o;
    o.B = 1;
    o.H = 1;
    o.Nq = 517;
    o.Nk = 517;
    o.D = 16;
    o.causal = true;
    o.score = score;
    check_cuda_against_cpu(make_problem(o, 2100, 0.25, 2.0));
  }
}

TEST_CASE("attention cuda: hard inputs (no key, zeros of sinc, underflow) stay finite",
          "[attention][cuda]") {
  FF_REQUIRE_CUDA();
  {
    Options o;  // Nk < Nq causal without eps: the first rows see no key
    o.Nq = 20;
    o.Nk = 9;
    o.D = 16;
    o.causal = true;
    o.eps = 0.0;
    check_cuda_against_cpu(make_problem(o, 2200, 0.3, 2.0));
  }
  {
    Options o;  // q = k in some dims, x = pi in others
    o.Nq = o.Nk = 40;
    o.D = 32;
    Problem pr = make_problem(o, 2201, 0.3, 2.0);
    for (int b = 0; b < o.B; ++b)
      for (int h = 0; h < o.H; ++h)
        for (int i = 0; i < o.Nq; ++i) {
          pr.k[pr.index(o.Nk, b, h, i, 0)] = pr.q[pr.index(o.Nq, b, h, i, 0)];
          pr.k[pr.index(o.Nk, b, h, i, 1)] = pr.q[pr.index(o.Nq, b, h, i, 1)] - M_PI / pr.R[0];
        }
    check_cuda_against_cpu(pr);
  }
  {
    Options o;  // every K_ij far below fp32's range
    o.Nq = o.Nk = 33;
    o.D = 16;
    Problem pr = make_problem(o, 2202, 1.0, 2.0);
    for (auto& x : pr.k) x += 20.0;
    check_cuda_against_cpu(pr);
  }
}

#else

TEST_CASE("attention cuda matches cpu for every option and head dim", "[attention][cuda]") {
  FF_REQUIRE_CUDA();  // a build without CUDA has no device: reported as skipped
  FAIL("cuda_device_count() > 0 in a build without CUDA");
}

#endif
