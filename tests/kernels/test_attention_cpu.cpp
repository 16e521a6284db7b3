// CPU fused attention against a naive float64 oracle (the paper's linear-domain formula and
// plain softmax attention), whose gradients are themselves checked by finite differences.

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "kernels/attention.h"
#include "kernels/common.h"
#include "test_attention_oracle.h"

using namespace ff::test::attention;
using ff::kernels::AttentionScore;

namespace {

std::string describe(const Options& o) {
  return fmt::format("{} B={} H={} Nq={} Nk={} D={} causal={} R_per_dim={} p={} eps={} bnhd={}",
                     o.score == AttentionScore::Fourier ? "fourier" : "dot", o.B, o.H, o.Nq, o.Nk,
                     o.D, o.causal, o.R_per_dim, o.p, o.eps, o.bnhd);
}

template <typename T>
struct CpuResult {
  HostRun<T> run;
  explicit CpuResult(const Problem& pr, bool with_probs = true) : run(pr) {
    ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, run.forward_params(pr, with_probs));
    ff::kernels::cpu::attention_backward(ff::kernels::cpu::Exec{}, run.backward_params(pr));
  }
};

// Forward, probs (unless !with_probs: the dot score then runs the register-blocked kernel) and
// every gradient within tol (norm-wise relative), all finite.
template <typename T>
void check_against_oracle(const Problem& pr, double tol, double floor = 1e-30, bool with_probs = true) {
  INFO(describe(pr.opt) << " probs=" << with_probs);
  const OracleResult want = oracle(pr);
  CpuResult<T> got(pr, with_probs);
  const auto& r = got.run;
  CHECK(all_finite(r.out));
  CHECK(all_finite(r.dq));
  CHECK(all_finite(r.dk));
  CHECK(all_finite(r.dv));
  CHECK(all_finite(r.dR));
  CHECK(rel_error(r.out, want.out, floor) < tol);
  if (with_probs) {
    CHECK(all_finite(r.probs));
    CHECK(rel_error(r.probs, want.probs, floor) < tol);
  }
  CHECK(rel_error(r.dq, want.dq, floor) < tol);
  CHECK(rel_error(r.dk, want.dk, floor) < tol);
  CHECK(rel_error(r.dv, want.dv, floor) < tol);
  if (pr.opt.score == AttentionScore::Fourier) CHECK(rel_error(r.dR, want.dR, floor) < tol);
}

// Every combination of the options, on sizes that do not divide the key tile.
std::vector<Options> option_grid(int Nq, int Nk, std::initializer_list<int> dims) {
  std::vector<Options> grid;
  for (auto score : {AttentionScore::Fourier, AttentionScore::Dot})
    for (bool causal : {false, true})
      for (int D : dims)
        for (int variant = 0; variant < 3; ++variant) {
          Options o;
          o.score = score;
          o.causal = causal;
          o.D = D;
          o.Nq = Nq;
          o.Nk = variant == 1 ? Nk : Nq;  // variant 1: memory keys (Nk > Nq)
          o.R_per_dim = variant == 2;
          o.bnhd = variant == 2;
          grid.push_back(o);
        }
  return grid;
}

}  // namespace

TEST_CASE("attention oracle: analytic gradients match central finite differences",
          "[attention][oracle]") {
  for (auto score : {AttentionScore::Fourier, AttentionScore::Dot})
    for (bool causal : {false, true})
      for (bool per_dim : {false, true}) {
        Options o;
        o.B = 1;
        o.H = 2;
        o.Nq = 4;
        o.Nk = 6;
        o.D = 3;
        o.score = score;
        o.causal = causal;
        o.R_per_dim = per_dim;
        o.eps = 1e-3;  // large enough to matter in the gradients
        Problem pr = make_problem(o, 11 + causal + 2 * per_dim, 0.4, 2.0);
        INFO(describe(o));
        const OracleResult an = oracle(pr);
        auto loss = [&]() {
          const OracleResult r = oracle(pr, false);
          double L = 0;
          for (std::size_t i = 0; i < r.out.size(); ++i) L += r.out[i] * pr.dout[i];
          return L;
        };
        auto check = [&](std::vector<double>& x, const std::vector<double>& grad) {
          for (std::size_t i = 0; i < x.size(); ++i) {
            const double h = 1e-6, x0 = x[i];
            x[i] = x0 + h;
            const double lp = loss();
            x[i] = x0 - h;
            const double lm = loss();
            x[i] = x0;
            CHECK(grad[i] == Approx((lp - lm) / (2 * h)).margin(1e-7).epsilon(1e-6));
          }
        };
        check(pr.q, an.dq);
        check(pr.k, an.dk);
        check(pr.v, an.dv);
        if (score == AttentionScore::Fourier) check(pr.R, an.dR);
      }
}

TEST_CASE("attention cpu double matches the oracle to 1e-10 for every option",
          "[attention][cpu]") {
  std::uint64_t seed = 100;
  for (const Options& o : option_grid(7, 11, {5, 8})) {
    Problem pr = make_problem(o, seed++, 0.3, 2.0);
    check_against_oracle<double>(pr, 1e-10);
  }
}

TEST_CASE("attention cpu float matches the oracle at realistic scale", "[attention][cpu]") {
  // q, k ~ N(0, 0.25^2), R = 2 (the LM's initialisation); 150 tokens span two key tiles.
  std::uint64_t seed = 200;
  for (Options o : option_grid(150, 181, {16, 7})) {
    o.B = 1;
    Problem pr = make_problem(o, seed++, 0.25, 2.0);
    check_against_oracle<float>(pr, 2e-5);
  }
}

TEST_CASE("attention cpu dot, register-blocked: every head dim 1-128, partial query blocks, memory keys, strides",
          "[attention][cpu]") {
  // Without probs the dot score runs in blocks of 6 query rows against key tiles of 128: Nq = 37
  // leaves a partial last block, Nk = 181 a partial second tile, Nk > Nq with causal makes the
  // first keys memory; D covers the SIMD remainder (7, 12, 20), one and several 16-wide chunks.
  std::uint64_t seed = 1000;
  for (int D : {1, 7, 12, 16, 20, 32, 48, 64, 96, 128})
    for (bool causal : {false, true})
      for (int variant = 0; variant < 3; ++variant) {
        Options o;
        o.score = AttentionScore::Dot;
        o.B = variant == 0 ? 2 : 1;
        o.D = D;
        o.causal = causal;
        o.Nq = 37;
        o.Nk = variant == 0 ? 37 : variant == 1 ? 53 : 181;
        o.bnhd = variant == 2;
        Problem pr = make_problem(o, seed++, 0.25, 2.0);
        check_against_oracle<double>(pr, 1e-10, 1e-30, false);
        check_against_oracle<float>(pr, 2e-5, 1e-30, false);
      }
}

TEST_CASE("attention cpu fourier, register-blocked: every head dim 1-128, partial query blocks, memory keys, strides",
          "[attention][cpu]") {
  // The Fourier score runs in blocks of 6 query rows against key tiles of 128 (sinc_products in
  // passes of 2 rows, sinc_grads in passes of 3): Nq = 37 leaves a partial last block, Nk = 181 a
  // partial second tile, Nk > Nq with causal makes the first keys memory; D covers groups of 4
  // sinc factors with a remainder (1, 7, 21) and long products (64, 128); a scalar R over 2 x 2
  // heads, per-dim R otherwise (a scalar R's dR of a single head sums terms that cancel to
  // below float's 2e-5, in the row kernel before this one too). Probs run the same kernel in a
  // second pass.
  std::uint64_t seed = 1100;
  for (int D : {1, 2, 7, 12, 16, 21, 32, 64, 128})
    for (bool causal : {false, true})
      for (int variant = 0; variant < 3; ++variant) {
        const Options o{.B = variant == 0 ? 2 : 1, .H = variant == 0 ? 2 : 1, .Nq = 37,
                        .Nk = variant == 0 ? 37 : variant == 1 ? 53 : 181, .D = D, .causal = causal,
                        .score = AttentionScore::Fourier, .R_per_dim = variant != 0, .bnhd = variant == 2};
        // Keep the scores in range at large D: q - k ~ N(0, 2 sd^2), x ~ R (q - k).
        const double sd = D <= 16 ? 0.25 : 0.25 * std::sqrt(16.0 / D);
        Problem pr = make_problem(o, seed++, sd, 2.0);
        check_against_oracle<double>(pr, 1e-10, 1e-30, variant == 1);
        check_against_oracle<float>(pr, 2e-5, 1e-30, variant == 1);
      }
}

TEST_CASE("attention cpu fourier: sinc products below the float range stay normalised",
          "[attention][cpu][hard]") {
  // D = 128 dims with |x| of order 3: every pair's prod_d sinc(x_d) is below FLT_MIN, so the
  // product is only representable with the kernel's rescaling (2^60 steps); with eps = 0 the
  // weights are still normalised and match the float64 oracle.
  const Options o{.B = 1, .H = 1, .Nq = 14, .Nk = 20, .D = 128, .causal = true, .eps = 0.0};
  Problem pr = make_problem(o, 1200, 1.0, 2.0);
  double largest = 0;
  for (int i = 0; i < o.Nq; ++i)
    for (int j = 0; j < o.Nk; ++j) {
      double prod = 1;
      for (int d = 0; d < o.D; ++d)
        prod *= std::fabs(sinc(2.0 * (pr.q[pr.index(o.Nq, 0, 0, i, d)] - pr.k[pr.index(o.Nk, 0, 0, j, d)])));
      largest = std::max(largest, prod);
    }
  REQUIRE(largest < 1.17549435e-38);
  check_against_oracle<double>(pr, 1e-9);
  check_against_oracle<float>(pr, 2e-3);
}

TEST_CASE("attention cpu fourier: R_d = 0 in some dims gives dR_d = 0 and finite gradients",
          "[attention][cpu][hard]") {
  const Options o{.Nq = 13, .Nk = 13, .D = 6, .causal = true, .R_per_dim = true};
  Problem pr = make_problem(o, 1300, 0.3, 2.0);
  pr.R[1] = 0.0;
  pr.R[4] = 0.0;
  check_against_oracle<double>(pr, 1e-10);
  check_against_oracle<float>(pr, 2e-5);
  CpuResult<float> got(pr);
  CHECK(got.run.dR[1] == 0.0f);
  CHECK(got.run.dR[4] == 0.0f);
}

TEST_CASE("attention cpu float and double agree on larger heads", "[attention][cpu]") {
  for (int D : {16, 24, 32, 64}) {
    Options o;
    o.B = 2;
    o.H = 3;
    o.Nq = 97;
    o.Nk = 133;
    o.D = D;
    o.causal = true;
    o.R_per_dim = D == 24;
    Problem pr = make_problem(o, 300 + D, 0.25, 2.0);
    CpuResult<double> ref(pr, false);
    CpuResult<float> got(pr, false);
    auto to_d = [](const std::vector<double>& x) { return x; };
    INFO(describe(o));
    CHECK(rel_error(got.run.out, to_d(ref.run.out)) < 2e-5);
    CHECK(rel_error(got.run.dq, to_d(ref.run.dq)) < 2e-5);
    CHECK(rel_error(got.run.dk, to_d(ref.run.dk)) < 2e-5);
    CHECK(rel_error(got.run.dv, to_d(ref.run.dv)) < 2e-5);
    CHECK(rel_error(got.run.dR, to_d(ref.run.dR)) < 2e-5);
  }
}

TEST_CASE("attention cpu fourier: q equal to k in some dims, and at the zeros of sinc",
          "[attention][cpu][hard]") {
  for (bool causal : {false, true}) {
    Options o;
    o.B = 1;
    o.H = 2;
    o.Nq = 12;
    o.Nk = 12;
    o.D = 6;
    o.causal = causal;
    o.R_per_dim = causal;
    Problem pr = make_problem(o, 400 + causal, 0.3, 2.0);
    const auto Rd = [&](int d) { return o.R_per_dim ? pr.R[d] : pr.R[0]; };
    for (int h = 0; h < o.H; ++h)
      for (int i = 0; i < o.Nq; ++i)
        for (int d = 0; d < o.D; ++d) {
          const auto qi = pr.index(o.Nq, 0, h, i, d);
          if (d < 2) pr.k[pr.index(o.Nk, 0, h, i, d)] = pr.q[qi];  // equal: x = 0 exactly
          if (d == 2 && i % 3 == 0)  // x = +-pi: a zero of sinc, weight 0
            pr.k[pr.index(o.Nk, 0, h, (i + 1) % o.Nk, d)] = pr.q[qi] - M_PI / Rd(d);
          if (d == 3 && i % 4 == 1)  // x = 2 pi
            pr.k[pr.index(o.Nk, 0, h, i, d)] = pr.q[qi] + 2 * M_PI / Rd(d);
          if (d == 4)  // nearly equal: x ~ 1e-7, where sin(a-b) from sin/cos loses everything
            pr.k[pr.index(o.Nk, 0, h, i, d)] = pr.q[qi] * (1 + 1e-7);
        }
    check_against_oracle<double>(pr, 1e-9);
    check_against_oracle<float>(pr, 5e-5);
  }
}

TEST_CASE("attention cpu fourier: large differences underflow the linear product but not ours",
          "[attention][cpu][hard]") {
  Options o;
  o.B = 1;
  o.H = 1;
  o.Nq = 10;
  o.Nk = 13;
  o.D = 16;
  Problem pr = make_problem(o, 500, 1.0, 2.0);
  for (auto& x : pr.k) x += 20.0;  // |x| ~ 40 in every dim: K_ij ~ 1e-100, far below fp32
  {
    // With eps the output is ~K/eps ~ 0, as the reference's; gradients ~ 0; nothing NaN.
    INFO("eps = 1e-6");
    const OracleResult want = oracle(pr);
    CpuResult<float> got(pr);
    CHECK(all_finite(got.run.out));
    CHECK(all_finite(got.run.dq));
    CHECK(all_finite(got.run.dk));
    CHECK(all_finite(got.run.dR));
    CHECK(all_finite(got.run.probs));
    for (double x : want.out) REQUIRE(std::fabs(x) < 1e-80);
    CHECK(rel_error(got.run.out, want.out, 1.0) < 1e-30);
    CHECK(rel_error(got.run.dq, want.dq, 1.0) < 1e-30);
    CHECK(rel_error(got.run.dR, want.dR, 1.0) < 1e-30);
    CHECK(rel_error(got.run.probs, want.probs, 1.0) < 1e-30);
  }
  {
    // Without eps the weights are still normalised: the float kernel works in the log domain
    // and matches the float64 linear-domain oracle (the fp32 product would be 0/0).
    INFO("eps = 0");
    pr.opt.eps = 0.0;
    check_against_oracle<float>(pr, 2e-3);
    check_against_oracle<double>(pr, 1e-9);
  }
}

TEST_CASE("attention cpu: causal rows with no key give zeros, never NaN",
          "[attention][cpu][hard]") {
  for (auto score : {AttentionScore::Fourier, AttentionScore::Dot}) {
    Options o;
    o.B = 1;
    o.H = 1;
    o.Nq = 9;
    o.Nk = 5;  // Nk < Nq: queries 0..3 see no key
    o.D = 4;
    o.causal = true;
    o.score = score;
    o.eps = 0.0;
    Problem pr = make_problem(o, 600, 0.3, 2.0);
    INFO(describe(o));
    CpuResult<float> got(pr);
    for (int i = 0; i < 4; ++i) {
      CHECK(got.run.lse[i] == -INFINITY);
      for (int d = 0; d < o.D; ++d) {
        CHECK(got.run.out[i * o.D + d] == 0.0f);
        CHECK(got.run.dq[i * o.D + d] == 0.0f);
      }
    }
    check_against_oracle<double>(pr, 1e-10);
    check_against_oracle<float>(pr, 2e-5);
  }
}

TEST_CASE("attention cpu: first causal row, single batch and head, odd head dims",
          "[attention][cpu][hard]") {
  std::uint64_t seed = 700;
  for (int D : {1, 7, 24})
    for (auto score : {AttentionScore::Fourier, AttentionScore::Dot}) {
      Options o;
      o.B = 1;
      o.H = 1;
      o.Nq = 1;  // a single causal query sees exactly the memory keys and itself
      o.Nk = 3;
      o.D = D;
      o.causal = true;
      o.score = score;
      check_against_oracle<double>(make_problem(o, seed++), 1e-10);
      o.Nq = o.Nk = 130;  // row 0 sees key 0 only
      check_against_oracle<float>(make_problem(o, seed++), 2e-5);
    }
}

TEST_CASE("attention cpu: eps = 0 and p = 2 match the oracle", "[attention][cpu]") {
  for (int p : {2, 4, 6}) {
    Options o;
    o.p = p;
    o.eps = p == 4 ? 0.0 : 1e-2;
    o.causal = p != 2;
    Problem pr = make_problem(o, 800 + p, 0.3, 2.0);
    check_against_oracle<double>(pr, 1e-10);
  }
}

TEST_CASE("attention cpu: strided (B, N, H, D) inputs give the same result as contiguous",
          "[attention][cpu]") {
  Options o;
  o.Nq = 33;
  o.Nk = 40;
  o.D = 16;
  o.causal = true;
  Problem a = make_problem(o, 900, 0.25, 2.0);
  Options ob = o;
  ob.bnhd = true;
  Problem b = a;
  b.opt = ob;
  auto relayout = [&](const std::vector<double>& x, int N) {
    std::vector<double> y(x.size());
    for (int bb = 0; bb < o.B; ++bb)
      for (int h = 0; h < o.H; ++h)
        for (int n = 0; n < N; ++n)
          for (int d = 0; d < o.D; ++d) y[b.index(N, bb, h, n, d)] = x[a.index(N, bb, h, n, d)];
    return y;
  };
  b.q = relayout(a.q, o.Nq);
  b.k = relayout(a.k, o.Nk);
  b.v = relayout(a.v, o.Nk);
  b.dout = relayout(a.dout, o.Nq);
  CpuResult<float> ra(a), rb(b);
  for (int bb = 0; bb < o.B; ++bb)
    for (int h = 0; h < o.H; ++h)
      for (int n = 0; n < o.Nq; ++n)
        for (int d = 0; d < o.D; ++d) {
          REQUIRE(rb.run.out[b.index(o.Nq, bb, h, n, d)] == ra.run.out[a.index(o.Nq, bb, h, n, d)]);
          REQUIRE(rb.run.dq[b.index(o.Nq, bb, h, n, d)] == ra.run.dq[a.index(o.Nq, bb, h, n, d)]);
        }
  CHECK(rb.run.dR == ra.run.dR);
}

TEST_CASE("attention cpu: dR is accumulated into, dq dk dv are overwritten", "[attention][cpu]") {
  Options o;
  o.R_per_dim = true;
  Problem pr = make_problem(o, 950, 0.3, 2.0);
  HostRun<double> run(pr);
  ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, run.forward_params(pr, false));
  ff::kernels::cpu::attention_backward(ff::kernels::cpu::Exec{}, run.backward_params(pr));
  const auto dR1 = run.dR;
  const auto dq1 = run.dq;
  ff::kernels::cpu::attention_backward(ff::kernels::cpu::Exec{}, run.backward_params(pr));
  for (std::size_t d = 0; d < dR1.size(); ++d) CHECK(run.dR[d] == Approx(2 * dR1[d]));
  CHECK(run.dq == dq1);
}

TEST_CASE("attention cpu: bad parameters are rejected with a message", "[attention][cpu]") {
  Options o;
  Problem pr = make_problem(o, 990);
  HostRun<float> run(pr);
  auto p = run.forward_params(pr, false);
  p.p = 3;
  CHECK_THROWS_WITH(ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, p), Catch::Contains("even"));
  p = run.forward_params(pr, false);
  p.R = nullptr;
  CHECK_THROWS_WITH(ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, p), Catch::Contains("needs R"));
  p = run.forward_params(pr, false);
  p.eps = -1.0f;
  CHECK_THROWS_AS(ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, p), ff::Error);
  p = run.forward_params(pr, false);
  p.D = 0;
  CHECK_THROWS_WITH(ff::kernels::cpu::attention_forward(ff::kernels::cpu::Exec{}, p), Catch::Contains("head dim"));
}
