// The CPU elementwise loops over strided operands: every run pattern of the innermost
// dimension (contiguous, broadcast, other strides, a strided output) against index arithmetic
// done by hand, on shapes large enough that the two threads split rows in the middle.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/elementwise.h"
#include "support/gradcheck.h"
#include "support/threads.h"

namespace cpu = ff::kernels::cpu;
using ff::kernels::BinaryOp;
using ff::kernels::cpu::Exec;
using ff::kernels::make_indexer;

using ff::testing::random_floats;
using ff::testing::ScopedThreads;

namespace {

// Shape (7, 1001, 13): 91,091 elements, so two threads split at 45,546, inside a row of 13.
const std::vector<int64_t> kShape{7, 1001, 13};

struct Layout {
  const char* name;
  std::vector<int64_t> stride;  // per dimension of kShape
  int64_t extent;               // elements the buffer must hold
};

// Contiguous; transposed (the innermost dimension outermost in memory); broadcast over the
// rows (a bias); broadcast over the innermost dimension (a per-row scale); a scalar.
const std::vector<Layout> kInputs{
    {"contiguous", {1001 * 13, 13, 1}, 7 * 1001 * 13},
    {"transposed", {1, 7, 7 * 1001}, 7 * 1001 * 13},
    {"row broadcast", {0, 0, 1}, 13},
    {"inner broadcast", {1001, 1, 0}, 7 * 1001},
    {"scalar", {0, 0, 0}, 1},
};

int64_t offset(const std::vector<int64_t>& stride, int64_t a, int64_t b, int64_t c) {
  return a * stride[0] + b * stride[1] + c * stride[2];
}

}  // namespace

TEST_CASE("CPU binary ops over strided and broadcast operands match index arithmetic") {
  ScopedThreads threads(2);
  // The output contiguous, then with a strided innermost dimension (a transposed output).
  const std::vector<Layout> outputs{kInputs[0], kInputs[1]};
  for (const Layout& out : outputs)
    for (const Layout& lx : kInputs)
      for (const Layout& ly : kInputs) {
        INFO("out " << out.name << ", x " << lx.name << ", y " << ly.name);
        const std::vector<float> x = random_floats(lx.extent, 1, -2.0, 2.0);
        const std::vector<float> y = random_floats(ly.extent, 2, -2.0, 2.0);
        std::vector<float> z(out.extent, -7.0f);
        cpu::binary(Exec{}, BinaryOp::Sub, make_indexer<3>(kShape, {out.stride, lx.stride, ly.stride}), z.data(),
                    x.data(), y.data());
        int64_t wrong = 0;
        for (int64_t a = 0; a < kShape[0]; ++a)
          for (int64_t b = 0; b < kShape[1]; ++b)
            for (int64_t c = 0; c < kShape[2]; ++c) {
              const float want = x[offset(lx.stride, a, b, c)] - y[offset(ly.stride, a, b, c)];
              wrong += z[offset(out.stride, a, b, c)] != want;
            }
        CHECK(wrong == 0);
      }
}

TEST_CASE("CPU copy and where over strided and broadcast operands match index arithmetic") {
  ScopedThreads threads(2);
  for (const Layout& lx : kInputs) {
    INFO("source " << lx.name);
    const std::vector<float> x = random_floats(lx.extent, 3, -2.0, 2.0);
    const std::vector<float> y = random_floats(7 * 1001 * 13, 4, -2.0, 2.0);
    std::vector<double> copied(7 * 1001 * 13, -7.0);
    cpu::copy(Exec{}, make_indexer<2>(kShape, {kInputs[0].stride, lx.stride}), copied.data(), x.data());
    // cond broadcast over the rows, x from the layout, y transposed.
    std::vector<uint8_t> cond(13);
    for (int c = 0; c < 13; ++c) cond[c] = c % 3 == 0;
    std::vector<float> chosen(7 * 1001 * 13, -7.0f);
    cpu::where(Exec{}, make_indexer<4>(kShape, {kInputs[0].stride, kInputs[2].stride, lx.stride, kInputs[1].stride}),
               chosen.data(), cond.data(), x.data(), y.data());
    int64_t wrong_copy = 0, wrong_where = 0;
    for (int64_t a = 0; a < kShape[0]; ++a)
      for (int64_t b = 0; b < kShape[1]; ++b)
        for (int64_t c = 0; c < kShape[2]; ++c) {
          const int64_t o = offset(kInputs[0].stride, a, b, c);
          const float xv = x[offset(lx.stride, a, b, c)], yv = y[offset(kInputs[1].stride, a, b, c)];
          wrong_copy += copied[o] != double(xv);
          wrong_where += chosen[o] != (c % 3 == 0 ? xv : yv);
        }
    CHECK(wrong_copy == 0);
    CHECK(wrong_where == 0);
  }
}

TEST_CASE("CPU float GELU and its derivative match float64 to a few float ulp") {
  // A dense grid over [-16, 16] (both tails of exp(-x^2 / 2) and the cut where it underflows),
  // around 0, and the IEEE specials.
  std::vector<float> x;
  for (int i = -160000; i <= 160000; ++i) x.push_back(float(i) * 1e-4f);
  for (float v : {1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.0f, -0.0f, 1e20f, -1e20f, 3e38f, -3e38f}) x.push_back(v);
  const int64_t n = int64_t(x.size());
  std::vector<float> g = random_floats(n, 5, -2.0, 2.0), y(n), dx(n);
  const std::vector<int64_t> flat{1};
  const auto ix2 = make_indexer<2>({n}, {flat, flat});
  const auto ix3 = make_indexer<3>({n}, {flat, flat, flat});
  cpu::unary(Exec{}, ff::kernels::UnaryOp::Gelu, ix2, y.data(), x.data(), 0.0, 0.0);
  cpu::binary(Exec{}, BinaryOp::GeluBackward, ix3, dx.data(), g.data(), x.data());
  double worst_y = 0, worst_dx = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double xd = x[i], cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2 * M_PI);
    const double want_y = xd * cdf, want_dx = double(g[i]) * (cdf + xd * pdf);
    // Relative to the value (at least 1e-30: exp(-x^2 / 2) is flushed to 0 below float's
    // normal range); the derivative relative to the sum of its terms' sizes, since cdf + x pdf
    // cancels near x = -0.75 whichever way it is computed.
    worst_y = std::max(worst_y, std::abs(y[i] - want_y) / std::max(std::abs(want_y), 1e-30));
    const double dx_scale = std::abs(double(g[i])) * (cdf + std::abs(xd) * pdf);
    worst_dx = std::max(worst_dx, std::abs(dx[i] - want_dx) / std::max(dx_scale, 1e-30));
  }
  CHECK(worst_y < 1e-6);
  CHECK(worst_dx < 1e-6);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> special{inf, -inf, nan}, out(3);
  cpu::unary(Exec{}, ff::kernels::UnaryOp::Gelu, make_indexer<2>({3}, {flat, flat}), out.data(), special.data(), 0.0,
             0.0);
  CHECK(out[0] == inf);
  CHECK(std::isnan(out[1]));  // -inf * 0, as 0.5 x (1 + erf(x / sqrt 2)) gives
  CHECK(std::isnan(out[2]));
}
