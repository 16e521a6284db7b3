#pragma once
// Element types (kernels/dtype.h): sizes and names. f64 exists for gradient checks; bf16
// kernels compute in f32.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/common.h"
#include "kernels/dtype.h"

namespace ff {

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

constexpr bool is_floating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::BF16; }

// Names as safetensors writes them: F32, F64, BF16, I32, I64, U8.
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

// Parses a safetensors dtype name; returns false for names we do not support.
inline bool parse_dtype(std::string_view name, DType* out) {
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8}) {
    if (dtype_name(t) == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

}  // namespace ff
