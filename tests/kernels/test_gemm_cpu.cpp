// The CPU GEMM's split across threads: every transpose, bias, ReLU and beta, batches that do
// and do not divide between two threads, C cut by rows and by columns, against a float64 loop.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/gemm.h"
#include "support/gradcheck.h"
#include "support/threads.h"

using ff::kernels::GemmParams;
using ff::kernels::cpu::Exec;

using ff::testing::random_floats;
using ff::testing::ScopedThreads;

namespace {

struct Case {
  int64_t batch, M, N, K;
};

}  // namespace

TEST_CASE("CPU gemm split across threads matches a float64 loop") {
  ScopedThreads threads(2);
  // Above the one-thread threshold (2^18 multiply-adds) except the first; rows cut (M >= N),
  // columns cut (N > M), sides that are not multiples of 16, batches of 1, 3 and 4.
  const std::vector<Case> cases{{1, 7, 9, 5}, {1, 203, 61, 37}, {1, 45, 301, 29}, {3, 67, 50, 41}, {4, 33, 90, 47}};
  for (const Case& cs : cases)
    for (int trans = 0; trans < 4; ++trans)
      for (int epilogue = 0; epilogue < 3; ++epilogue) {
        const bool ta = trans & 1, tb = trans & 2, bias = epilogue >= 1, relu = epilogue == 2;
        const float beta = epilogue == 1 ? 0.5f : 0.0f;
        INFO("batch " << cs.batch << " M " << cs.M << " N " << cs.N << " K " << cs.K << " trans_a " << ta
                      << " trans_b " << tb << " bias " << bias << " relu " << relu << " beta " << beta);
        GemmParams<float> p;
        p.trans_a = ta, p.trans_b = tb, p.M = cs.M, p.N = cs.N, p.K = cs.K, p.batch = cs.batch;
        // Leading dimensions wider than the rows, so a piece's offsets must use them.
        p.lda = (ta ? cs.M : cs.K) + 3, p.ldb = (tb ? cs.K : cs.N) + 2, p.ldc = cs.N + 5;
        p.stride_a = p.lda * (ta ? cs.K : cs.M), p.stride_b = p.ldb * (tb ? cs.N : cs.K), p.stride_c = p.ldc * cs.M;
        const std::vector<float> a = random_floats(p.stride_a * cs.batch, 1, -1.0, 1.0);
        const std::vector<float> b = random_floats(p.stride_b * cs.batch, 2, -1.0, 1.0);
        const std::vector<float> bias_v = random_floats(cs.N, 3, -1.0, 1.0);
        std::vector<float> c = random_floats(p.stride_c * cs.batch, 4, -1.0, 1.0);
        const std::vector<float> c0 = c;
        p.A = a.data(), p.B = b.data(), p.C = c.data(), p.alpha = 0.75f, p.beta = beta;
        p.bias = bias ? bias_v.data() : nullptr, p.relu = relu;
        ff::kernels::cpu::gemm(Exec{}, p);
        double worst = 0;
        int64_t untouched_padding = 0, padding = 0;
        for (int64_t i = 0; i < cs.batch; ++i)
          for (int64_t r = 0; r < cs.M; ++r)
            for (int64_t col = 0; col < p.ldc; ++col) {
              const int64_t at = i * p.stride_c + r * p.ldc + col;
              if (col >= cs.N) {
                ++padding;
                untouched_padding += c[at] == c0[at];
                continue;
              }
              double want = 0;
              for (int64_t k = 0; k < cs.K; ++k) {
                const double av = a[i * p.stride_a + (ta ? k * p.lda + r : r * p.lda + k)];
                const double bv = b[i * p.stride_b + (tb ? col * p.ldb + k : k * p.ldb + col)];
                want += av * bv;
              }
              want = 0.75 * want + beta * c0[at] + (bias ? bias_v[col] : 0.0);
              if (relu) want = std::max(want, 0.0);
              worst = std::max(worst, std::abs(c[at] - want));
            }
        CHECK(worst < 1e-5);
        CHECK(untouched_padding == padding);
      }
}
