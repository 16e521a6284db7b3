#pragma once
// Brain float 16 on the host: the top 16 bits of an IEEE f32, rounded to nearest even (ties to
// the even pattern; NaN becomes the quiet NaN 0x7fc0, overflow rounds to infinity). A storage
// type: math converts to float. Device code uses CUDA's __nv_bfloat16 (kernels/dtype.h).

#include <cstdint>
#include <cstring>

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

}  // namespace ff
