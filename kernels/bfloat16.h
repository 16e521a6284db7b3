#pragma once
// Brain float 16: the top 16 bits of an IEEE f32, rounded to nearest even. A storage type:
// math converts to float. Usable in host and device code.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/common.h"

namespace ff {

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  FF_HD explicit BFloat16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = 0x7fc0;  // NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  FF_HD explicit operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
};

// Value conversion between element types, through float for bf16.
template <typename Dst, typename Src>
FF_HD Dst convert(Src x) {
  if constexpr (std::is_same_v<Dst, BFloat16>) {
    return BFloat16(static_cast<float>(x));
  } else if constexpr (std::is_same_v<Src, BFloat16>) {
    return static_cast<Dst>(static_cast<float>(x));
  } else {
    return static_cast<Dst>(x);
  }
}

}  // namespace ff
