#include <catch2/catch.hpp>

#include <cmath>

#include "support/device_parity.h"
#include "core/ops/ops.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using testing::gradcheck;
using testing::random_tensor;

namespace {

// -log softmax(x)[i, j] in double.
double naive_nll(const std::vector<double>& x, int64_t C, int64_t i, int64_t j) {
  double m = -INFINITY, s = 0;
  for (int64_t k = 0; k < C; ++k) m = std::max(m, x[i * C + k]);
  for (int64_t k = 0; k < C; ++k) s += std::exp(x[i * C + k] - m);
  return m + std::log(s) - x[i * C + j];
}

Tensor ids(const std::vector<int64_t>& v, DType dtype = DType::I64) {
  return to_dtype(Tensor::from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}), dtype);
}

CrossEntropyOptions ce(Reduction r, double smoothing = 0.0, int64_t ignore = -100) {
  CrossEntropyOptions o;
  o.reduction = r;
  o.label_smoothing = smoothing;
  o.ignore_index = ignore;
  return o;
}

}  // namespace

TEST_CASE("cross_entropy matches -log softmax for every reduction", "[loss]") {
  const int64_t N = 5, C = 7;
  Tensor x = random_tensor({N, C}, 1, -4.0, 4.0);
  std::vector<int64_t> t{3, 0, 6, 2, 6};
  std::vector<double> xv = x.to_vector<double>();
  std::vector<double> want(N);
  double total = 0;
  for (int64_t i = 0; i < N; ++i) total += want[i] = naive_nll(xv, C, i, t[i]);
  for (DType id_type : {DType::I64, DType::I32}) {
    std::vector<double> none = cross_entropy(x, ids(t, id_type), ce(Reduction::None)).to_vector<double>();
    REQUIRE(none.size() == size_t(N));
    for (int64_t i = 0; i < N; ++i) CHECK(none[i] == Approx(want[i]).margin(1e-12));
    Tensor s = cross_entropy(x, ids(t, id_type), ce(Reduction::Sum));
    CHECK(s.dim() == 0);
    CHECK(s.item() == Approx(total).margin(1e-12));
    CHECK(cross_entropy(x, ids(t, id_type)).item() == Approx(total / N).margin(1e-12));
  }
  // f32 and huge logits stay finite.
  Tensor big = random_tensor({N, C}, 2, 990.0, 1010.0);
  std::vector<double> bv = big.to_vector<double>();
  std::vector<float> got = cross_entropy(to_dtype(big, DType::F32), ids(t), ce(Reduction::None)).to_vector<float>();
  for (int64_t i = 0; i < N; ++i) CHECK(got[i] == Approx(naive_nll(bv, C, i, t[i])).margin(2e-3));
}

TEST_CASE("cross_entropy mean excludes ignored rows", "[loss]") {
  Tensor x = random_tensor({4, 3}, 3);
  std::vector<double> xv = x.to_vector<double>();
  std::vector<int64_t> t{1, -100, 2, -100};
  std::vector<double> none = cross_entropy(x, ids(t), ce(Reduction::None)).to_vector<double>();
  CHECK(none[1] == 0.0);
  CHECK(none[3] == 0.0);
  const double want = (naive_nll(xv, 3, 0, 1) + naive_nll(xv, 3, 2, 2)) / 2;
  CHECK(cross_entropy(x, ids(t)).item() == Approx(want).margin(1e-12));
  // Another ignore id; ignored rows get no gradient.
  std::vector<int64_t> t2{1, 0, 2, 0};
  Tensor leaf = x.detach();
  leaf.set_requires_grad(true);
  Tensor loss = cross_entropy(leaf, ids(t2), ce(Reduction::Mean, 0.0, 0));
  CHECK(loss.item() == Approx(want).margin(1e-12));
  loss.backward();
  std::vector<double> g = leaf.grad().to_vector<double>();
  for (int64_t j = 0; j < 3; ++j) {
    CHECK(g[1 * 3 + j] == 0.0);
    CHECK(g[3 * 3 + j] == 0.0);
  }
  CHECK(g[0] != 0.0);
}

TEST_CASE("cross_entropy label smoothing matches a hand-computed value", "[loss]") {
  // logits (1, 2, 3), target 2, eps 0.1: lse = log(e + e^2 + e^3) = 3.4076059644443806;
  // 0.9 (lse - 3) + 0.1 mean_j (lse - x_j) = lse - 0.9 * 3 - 0.1 * 2 = lse - 2.9.
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {1, 3});
  CHECK(cross_entropy(x, ids({2}), ce(Reduction::Mean, 0.1)).item() == Approx(0.5076059644443806).margin(1e-12));
  CHECK(cross_entropy(to_dtype(x, DType::F32), ids({2}), ce(Reduction::Mean, 0.1)).item() ==
        Approx(0.5076059644443806).margin(1e-6));
}

TEST_CASE("cross_entropy with soft targets", "[loss]") {
  const int64_t N = 4, C = 5;
  Tensor x = random_tensor({N, C}, 4, -3.0, 3.0);
  std::vector<double> xv = x.to_vector<double>();
  // One-hot distributions equal the id loss (with or without smoothing).
  std::vector<int64_t> t{4, 1, 0, 3};
  std::vector<double> onehot(N * C, 0.0);
  for (int64_t i = 0; i < N; ++i) onehot[i * C + t[i]] = 1.0;
  Tensor q = Tensor::from_vector(onehot, {N, C});
  for (double eps : {0.0, 0.2}) {
    CHECK(cross_entropy(x, q, ce(Reduction::Mean, eps)).item() ==
          Approx(cross_entropy(x, ids(t), ce(Reduction::Mean, eps)).item()).margin(1e-12));
  }
  // A mixup-style target: 0.7 / 0.3 between two classes.
  std::vector<double> mix(N * C, 0.0);
  std::vector<int64_t> t2{2, 2, 4, 0};
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    mix[i * C + t[i]] += 0.7;
    mix[i * C + t2[i]] += 0.3;
    total += 0.7 * naive_nll(xv, C, i, t[i]) + 0.3 * naive_nll(xv, C, i, t2[i]);
  }
  Tensor qm = Tensor::from_vector(mix, {N, C});
  CHECK(cross_entropy(x, qm, ce(Reduction::Sum)).item() == Approx(total).margin(1e-12));
  CHECK(cross_entropy(x, qm).item() == Approx(total / N).margin(1e-12));
  CHECK(cross_entropy(x, qm, ce(Reduction::None)).shape() == Shape{N});
}

TEST_CASE("cross_entropy reports an out-of-range class id", "[loss]") {
  Tensor x = Tensor::zeros({3, 5}, DType::F64);
  CHECK_THROWS_AS(cross_entropy(x, ids({0, 7, 1})), Error);
  CHECK_THROWS_WITH(cross_entropy(x, ids({0, 7, 1})), Catch::Contains("7") && Catch::Contains("5 classes"));
  CHECK_THROWS_WITH(cross_entropy(x, ids({-1, 0, 1}, DType::I32)), Catch::Contains("-1"));
  CHECK_THROWS_WITH(nll_loss(x, ids({0, 5, 1})), Catch::Contains("5 classes"));
  CHECK_THROWS_AS(cross_entropy(x, ids({0, 1})), Error);  // wrong N
}

TEST_CASE("nll_loss gathers -log p and matches cross_entropy of the logits", "[loss]") {
  Tensor x = random_tensor({6, 4}, 5);
  std::vector<int64_t> t{0, 3, -100, 1, 2, 3};
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    NllLossOptions o;
    o.reduction = r;
    CHECK(testing::max_abs_diff(nll_loss(log_softmax(x), ids(t), o), cross_entropy(x, ids(t), ce(r))) < 1e-12);
  }
  Tensor lp = random_tensor({2, 3}, 6);
  std::vector<double> v = lp.to_vector<double>();
  NllLossOptions none;
  none.reduction = Reduction::None;
  CHECK(nll_loss(lp, ids({2, 0}), none).to_vector<double>() == std::vector<double>{-v[2], -v[3]});
}

TEST_CASE("loss gradients match finite differences", "[loss][gradcheck]") {
  const int64_t N = 5, C = 4;
  std::vector<int64_t> t{3, -100, 0, 2, 2};
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    for (double eps : {0.0, 0.15}) {
      for (DType id_type : {DType::I64, DType::I32}) {
        Tensor target = ids(t, id_type);
        REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, ce(r, eps)); },
                          {random_tensor({N, C}, 7, -3.0, 3.0)}) == "");
      }
      Tensor q = random_tensor({N, C}, 8, 0.0, 1.0);
      REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], q, ce(r, eps)); },
                        {random_tensor({N, C}, 9, -3.0, 3.0)}) == "");
    }
    NllLossOptions o;
    o.reduction = r;
    Tensor target = ids(t);
    REQUIRE(gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], target, o); },
                      {random_tensor({N, C}, 10)}) == "");
  }
  // One row, one class, large logits, and non-contiguous logits (the transpose of a leaf).
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return cross_entropy(in[0], ids({0})); },
                    {random_tensor({1, 1}, 11)}) == "");
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) { return cross_entropy(in[0], ids({1, 0, 2})); },
                    {random_tensor({3, 3}, 12, 995.0, 1005.0)}) == "");
  REQUIRE(gradcheck([](const std::vector<Tensor>& in) {
            return cross_entropy(transpose(in[0], 0, 1), ids({1, 0, 3}), ce(Reduction::Mean, 0.1));
          },
          {random_tensor({4, 3}, 13)}) == "");
}

TEST_CASE("losses on CUDA match the CPU", "[loss][cuda]") {
  FF_REQUIRE_CUDA();
  // Small C (a warp per row), C = 1000 (ImageNet), C = 5000 (a block per row).
  for (Shape shape : {Shape{1, 1}, Shape{9, 10}, Shape{33, 1000}, Shape{4, 5000}}) {
    INFO(shape_str(shape));
    const int64_t N = shape[0], C = shape[1];
    std::vector<int64_t> t(N);
    for (int64_t i = 0; i < N; ++i) t[i] = (i % 4 == 3) ? -100 : (i * 7919) % C;
    Tensor x = random_tensor(shape, 40, -4.0, 4.0, DType::F32);
    Tensor q_raw = random_tensor(shape, 41, 0.0, 1.0, DType::F32);
    Tensor q = div(q_raw, sum(q_raw, {1}, true));  // rows sum to one
    for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
      for (double eps : {0.0, 0.1}) {
        for (DType id_type : {DType::I64, DType::I32}) {
          Tensor target = ids(t, id_type);
          REQUIRE(testing::compare_cuda_with_cpu(
                      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], ce(r, eps)); },
                      {x, target}, 2e-4) == "");
        }
        REQUIRE(testing::compare_cuda_with_cpu(
                    [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1].detach(), ce(r, eps)); },
                    {x, q}, 2e-4) == "");
      }
      NllLossOptions o;
      o.reduction = r;
      REQUIRE(testing::compare_cuda_with_cpu([&](const std::vector<Tensor>& in) { return nll_loss(in[0], in[1], o); },
                                             {x, ids(t)}, 1e-5) == "");
    }
  }
}

TEST_CASE("cross_entropy in float matches double on wide rows, -inf, NaN and smoothing", "[loss]") {
  // Float rows take the vectorised path (kernels/cpu/row_exp.h: chunks of 256, float lanes);
  // C = 2002 and 4099 span several chunks and a partial last one. Row 1 holds -inf logits (they
  // add nothing), row 2 a NaN (the exact path: NaN loss and gradient row), row 3 all -inf but
  // the target's. Loss and gradient against the double kernel on the same values.
  for (int64_t C : {3, 2002, 4099}) {
    for (double smoothing : {0.0, 0.1}) {
      INFO("C " << C << " smoothing " << smoothing);
      const int64_t N = 6;
      std::vector<double> xv = random_tensor({N, C}, 40 + C, -6.0, 6.0).to_vector<double>();
      xv[1 * C + C - 1] = -INFINITY;
      xv[1 * C + 0] = -INFINITY;
      xv[2 * C + C - 1] = NAN;
      for (int64_t j = 0; j < C; ++j) xv[3 * C + j] = j == 1 ? 2.0 : -INFINITY;
      std::vector<int64_t> t{0, 1, 2, 1, C - 1, C / 3};
      Tensor x64 = Tensor::from_vector<double>(xv, {N, C});
      Tensor x32 = to_dtype(x64, DType::F32);  // the f32 values, compared in f64 below
      Tensor x32_as64 = to_dtype(x32, DType::F64).detach().set_requires_grad(true);
      x32.set_requires_grad(true);
      Tensor l32 = cross_entropy(x32, ids(t), ce(Reduction::None, smoothing));
      Tensor l64 = cross_entropy(x32_as64, ids(t), ce(Reduction::None, smoothing));
      const std::vector<double> a = l32.to_vector<double>(), b = l64.to_vector<double>();
      for (int64_t i = 0; i < N; ++i) {
        INFO("row " << i);
        if (i == 2) {  // the NaN row
          CHECK(std::isnan(a[i]));
          CHECK(std::isnan(b[i]));
        } else if ((i == 1 || i == 3) && smoothing > 0) {  // -inf logits carry eps / C of the target
          CHECK(a[i] == INFINITY);
          CHECK(b[i] == INFINITY);
        } else {
          CHECK(std::isfinite(b[i]));
          CHECK(a[i] == Approx(b[i]).epsilon(2e-6).margin(2e-6));
        }
      }
      sum(l32).backward();
      sum(l64).backward();
      const std::vector<double> g32 = x32.grad().to_vector<double>(), g64 = x32_as64.grad().to_vector<double>();
      for (int64_t i : {0, 4, 5}) {
        for (int64_t j = 0; j < C; ++j) {
          if (std::fabs(g32[i * C + j] - g64[i * C + j]) > 1e-6 * (1 + std::fabs(g64[i * C + j]))) {
            FAIL_CHECK("row " << i << " col " << j << ": " << g32[i * C + j] << " vs " << g64[i * C + j]);
            break;
          }
        }
      }
      // NaN row: NaN everywhere, as the double kernel.
      CHECK(std::isnan(g32[2 * C]));
      // Only the target is finite and largest in row 3 (smoothing 0): probability 1, gradient 0.
      if (smoothing == 0) CHECK(a[3] == 0.0);
    }
  }
}
