#pragma once
// Element types. f64 exists for gradient checks on the CPU; bf16 is a storage type
// (converted to f32 for math).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/bfloat16.h"
#include "kernels/common.h"

namespace ff {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, U8 };

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

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::BF16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <typename T> inline constexpr DType dtype_of = DTypeOf<T>::value;

// Calls fn.template operator()<T>() with T the C++ type of a floating dtype (f32 or f64).
template <typename Fn>
decltype(auto) visit_float(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn.template operator()<float>();
    case DType::F64: return fn.template operator()<double>();
    default: break;
  }
  throw Error(fmt::format("expected a float32 or float64 tensor, got {}", dtype_name(t)));
}

// Same for every dtype.
template <typename Fn>
decltype(auto) visit_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn.template operator()<float>();
    case DType::F64: return fn.template operator()<double>();
    case DType::BF16: return fn.template operator()<BFloat16>();
    case DType::I32: return fn.template operator()<int32_t>();
    case DType::I64: return fn.template operator()<int64_t>();
    case DType::U8: return fn.template operator()<uint8_t>();
  }
  throw Error("unknown dtype");
}

}  // namespace ff
