#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "core/tensor/print.h"
#include "core/tensor/storage.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;

TEST_CASE("tensor factories set shape, strides and values", "[tensor]") {
  Tensor t = Tensor::full({2, 3}, 1.5);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.numel() == 6);
  CHECK(t.dtype() == DType::F32);
  CHECK(t.is_contiguous());
  for (float v : t.to_vector<float>()) CHECK(v == 1.5f);
  CHECK(Tensor::zeros({4}, DType::I64).to_vector<int64_t>() == std::vector<int64_t>(4, 0));
  CHECK(Tensor::scalar(3.0, DType::F64).item() == 3.0);
  CHECK(t.str() == "F32[2, 3] cpu");
}

TEST_CASE("cpu storage is 64-byte aligned", "[tensor]") {
  for (int64_t n : {1, 3, 17, 1000}) {
    Tensor t = Tensor::empty({n});
    CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
  }
}

TEST_CASE("cpu storage: a freed block of 64 KiB or more is reused by the next request of its size class",
          "[tensor][storage]") {
  const Device cpu = Device::cpu();
  release_cached_memory();
  REQUIRE(memory_stats(cpu).cached == 0);
  const size_t live = memory_stats(cpu).current;
  const void* first = nullptr;
  {
    Storage a(1000000, cpu);  // class: 1,000,000 rounded up to 65,536 (2^19 / 8) steps = 1,048,576
    first = a.data();
    CHECK(memory_stats(cpu).current == live + 1000000);
  }
  CHECK(memory_stats(cpu).current == live);
  CHECK(memory_stats(cpu).cached == 1048576);
  {
    Storage b(1040000, cpu);  // the same class: the same block
    CHECK(b.data() == first);
    CHECK(memory_stats(cpu).cached == 0);
    Storage c(1100000, cpu);  // its class: 131,072 (2^20 / 8) steps, 1,179,648: a new block
    CHECK(c.data() != first);
  }
  CHECK(memory_stats(cpu).cached == 1048576 + 1179648);
  {
    Storage small(60000, cpu);  // under 64 KiB: not cached, glibc's arenas reuse those
  }
  CHECK(memory_stats(cpu).cached == 1048576 + 1179648);
  release_cached_memory();
  CHECK(memory_stats(cpu).cached == 0);
}

TEST_CASE("views share storage and index correctly", "[tensor]") {
  Tensor x = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = transpose(x, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.storage() == x.storage());
  CHECK(t.to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(slice(x, 1, 0, 3, 2).to_vector<double>() == std::vector<double>{0, 2, 3, 5});
  CHECK(select(x, 0, 1).to_vector<double>() == std::vector<double>{3, 4, 5});
  CHECK(narrow(x, 1, 1, 2).to_vector<double>() == std::vector<double>{1, 2, 4, 5});
  CHECK(expand(select(x, 0, 0), {2, 3}).to_vector<double>() == std::vector<double>{0, 1, 2, 0, 1, 2});
  CHECK(reshape(t, {6}).to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(reshape(x, {-1, 2}).shape() == Shape{3, 2});
  CHECK(unsqueeze(x, 1).shape() == Shape{2, 1, 3});
  CHECK(squeeze(unsqueeze(x, 2), 2).shape() == Shape{2, 3});
  CHECK(permute(reshape(x, {1, 2, 3}), {2, 0, 1}).shape() == Shape{3, 1, 2});
  CHECK(concat({x, x}, 0).shape() == Shape{4, 3});
  CHECK(concat({x, slice(x, 1, 0, 1)}, 1).to_vector<double>() == std::vector<double>{0, 1, 2, 0, 3, 4, 5, 3});
}

TEST_CASE("dtype conversion round-trips and rounds bf16 to nearest even", "[tensor]") {
  Tensor x = Tensor::from_vector<float>({1.0f, -2.5f, 3.14159f, 65504.0f}, {4});
  Tensor b = to_dtype(x, DType::BF16);
  std::vector<float> back = to_dtype(b, DType::F32).to_vector<float>();
  CHECK(back[0] == 1.0f);
  CHECK(back[1] == -2.5f);
  CHECK(back[2] == Approx(3.140625f));  // 8 significant bits
  CHECK(to_dtype(x, DType::I32).to_vector<int32_t>() == std::vector<int32_t>{1, -2, 3, 65504});
}

TEST_CASE("bad shapes and dims are reported with the shapes", "[tensor]") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(reshape(x, {4, 2}), Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  CHECK_THROWS_WITH(add(x, Tensor::zeros({4})), Catch::Contains("do not broadcast"));
  CHECK_THROWS_WITH(x.size(2), Catch::Contains("out of range"));
  CHECK_THROWS_AS(x.data<double>(), Error);
  CHECK_THROWS_AS(parse_device("gpu"), UserError);
}

TEST_CASE("no GPU reads as no GPU, not a crash", "[tensor][cuda]") {
  // Where the build has CUDA but the machine no driver, the probe must answer 0 with a reason.
  if (!cuda_available()) {
    CHECK(kernels::cuda_device_count() == 0);
    CHECK_FALSE(kernels::cuda_unavailable_reason().empty());
  } else {
    CHECK(kernels::cuda_unavailable_reason().empty());
  }
}

TEST_CASE("tensors copy between CPU and CUDA", "[tensor][cuda]") {
  FF_REQUIRE_CUDA();
  Tensor x = testing::random_tensor({5, 7}, 1, -1, 1, DType::F32);
  Tensor g = to_device(x, Device::cuda());
  CHECK(g.device().is_cuda());
  CHECK(testing::max_abs_diff(to_device(g, Device::cpu()), x) == 0.0);
  CHECK(testing::max_abs_diff(transpose(g, 0, 1), transpose(x, 0, 1)) == 0.0);
  CHECK(testing::max_abs_diff(to_dtype(to_dtype(g, DType::BF16), DType::F32), to_dtype(to_dtype(x, DType::BF16), DType::F32)) == 0.0);
}

TEST_CASE("tensors print their values, eliding long dimensions", "[tensor]") {
  Tensor x = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(format_tensor(transpose(x, 0, 1)) == "F64[3, 2] cpu\n[[0, 3],\n [1, 4],\n [2, 5]]");
  Tensor ids = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6, 7, 8}, {8});
  CHECK(format_tensor(ids, 2) == "I64[8] cpu\n[1, 2, ..., 7, 8]");
  CHECK(format_tensor(Tensor::scalar(0.5)) == "F32[] cpu\n0.5");
}
