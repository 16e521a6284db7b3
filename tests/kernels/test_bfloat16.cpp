// The host bf16 type: f32 -> bf16 rounds to nearest, ties to even, on the bit patterns where
// that rule is easy to get wrong (ties, subnormals, overflow, NaN, infinities).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/dtype.h"

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
uint16_t round_bits(uint32_t f32_bits) { return ff::BFloat16(from_bits(f32_bits)).bits; }

}  // namespace

TEST_CASE("f32 to bf16 rounds to nearest, ties to even", "[bf16]") {
  CHECK(round_bits(0x3F800000u) == 0x3F80);  // 1.0 exactly
  CHECK(round_bits(0x3F807FFFu) == 0x3F80);  // just below the halfway point
  CHECK(round_bits(0x3F808000u) == 0x3F80);  // halfway, 0x3F80 is even: down
  CHECK(round_bits(0x3F808001u) == 0x3F81);  // just above halfway
  CHECK(round_bits(0x3F818000u) == 0x3F82);  // halfway, 0x3F81 is odd: up
  CHECK(round_bits(0xBF808000u) == 0xBF80);  // the sign does not change the rule
  CHECK(round_bits(0xBF818000u) == 0xBF82);
  CHECK(round_bits(0x3FFF8000u) == 0x4000);  // a carry into the exponent
}

TEST_CASE("f32 to bf16 on subnormals, overflow, infinities and NaN", "[bf16]") {
  CHECK(round_bits(0x00000001u) == 0x0000);  // far below the smallest bf16 subnormal
  CHECK(round_bits(0x00008000u) == 0x0000);  // halfway to 0x0001: even is 0
  CHECK(round_bits(0x00018000u) == 0x0002);  // halfway between 0x0001 and 0x0002
  CHECK(round_bits(0x00010000u) == 0x0001);  // the smallest bf16 subnormal, exact
  CHECK(round_bits(0x807F8000u) == 0x8080);  // a negative subnormal rounding up to the normal range
  CHECK(round_bits(0x7F7FFFFFu) == 0x7F80);  // f32 max rounds to +inf (it is above bf16 max + half ulp)
  CHECK(round_bits(0x7F7F7FFFu) == 0x7F7F);  // below the halfway point: bf16 max
  CHECK(round_bits(0x7F800000u) == 0x7F80);  // +inf
  CHECK(round_bits(0xFF800000u) == 0xFF80);  // -inf
  CHECK(round_bits(0x7FC00000u) == 0x7FC0);  // quiet NaN
  CHECK(round_bits(0x7F800001u) == 0x7FC0);  // a NaN whose payload would round to inf stays NaN
  CHECK(round_bits(0xFFFFFFFFu) == 0x7FC0);
}

TEST_CASE("bf16 to f32 is exact, and convert goes through f32", "[bf16]") {
  ff::BFloat16 one;
  one.bits = 0x3F80;
  CHECK(static_cast<float>(one) == 1.0f);
  ff::BFloat16 tiny;
  tiny.bits = 0x0001;
  CHECK(bits_of(static_cast<float>(tiny)) == 0x00010000u);  // 2^-133
  ff::BFloat16 nan;
  nan.bits = 0x7FC0;
  CHECK(std::isnan(static_cast<float>(nan)));
  CHECK(ff::kernels::convert<ff::BFloat16>(1.00390625).bits == 0x3F80);  // 1 + 2^-8: a tie, to even
  CHECK(ff::kernels::convert<ff::BFloat16>(int64_t{257}).bits == 0x4380);  // 257 -> 256 (8 significant bits)
  CHECK(ff::kernels::convert<int32_t>(ff::kernels::convert<ff::BFloat16>(-3.0f)) == -3);
  CHECK(ff::kernels::widen(ff::kernels::convert<ff::BFloat16>(0.1f)) == 0.10009765625f);
}
