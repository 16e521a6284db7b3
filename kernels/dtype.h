#pragma once
// Element types, as every layer names them, and what each kernel family is built for.
//
// A kernel family's header declares the dtypes its CPU and CUDA launchers are instantiated
// for (a KernelDTypes constant such as kSoftmaxDTypes); core/ops/dispatch.h reads it to pick
// the launcher or to name the missing combination. The C++ element type of a dtype depends on
// the backend only for bf16: ff::BFloat16 on the host, CUDA's own __nv_bfloat16 on the device.
// Both hold the same 16 bits, and kernels on either compute in f32 (compute_t).

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "kernels/bfloat16.h"

#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
#include <cuda_bf16.h>
#endif

namespace ff {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, U8 };

inline constexpr DType kAllDTypes[] = {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8};

// A set of dtypes, usable as a template argument.
struct DTypeSet {
  uint32_t bits = 0;
  constexpr DTypeSet() = default;
  constexpr DTypeSet(std::initializer_list<DType> dtypes) {
    for (DType t : dtypes) bits |= 1u << static_cast<unsigned>(t);
  }
  constexpr bool has(DType t) const { return (bits >> static_cast<unsigned>(t)) & 1u; }
};

inline constexpr DTypeSet kFloatDTypes{DType::F32, DType::F64, DType::BF16};
inline constexpr DTypeSet kEveryDType{DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8};

// The dtypes a kernel family's launchers exist for, per backend.
struct KernelDTypes {
  DTypeSet cpu;
  DTypeSet cuda;
};

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::BF16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
template <> struct DTypeOf<__nv_bfloat16> { static constexpr DType value = DType::BF16; };
#endif
template <typename T> inline constexpr DType dtype_of = DTypeOf<T>::value;

namespace kernels {

// The type arithmetic happens in: f32 for bf16 (loads widen, stores round to nearest even),
// the type itself otherwise.
template <typename T> struct ComputeType { using type = T; };
template <> struct ComputeType<BFloat16> { using type = float; };
#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
template <> struct ComputeType<__nv_bfloat16> { using type = float; };
#endif
template <typename T> using compute_t = typename ComputeType<T>::type;

template <typename T>
inline constexpr bool is_bf16 = !std::is_same_v<compute_t<T>, T>;

// A stored value in its compute type, and back (bf16: round to nearest even).
template <typename T>
FF_HD compute_t<T> widen(T x) {
#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(x);
  } else
#endif
  {
    return static_cast<compute_t<T>>(x);
  }
}
template <typename T>
FF_HD T narrow(compute_t<T> x) {
#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(x);
  } else
#endif
  {
    return T(x);
  }
}

// Value conversion between element types, through f32 for bf16.
template <typename Dst, typename Src>
FF_HD Dst convert(Src x) {
  if constexpr (is_bf16<Dst>) {
    return narrow<Dst>(static_cast<float>(widen(x)));
  } else {
    return static_cast<Dst>(widen(x));
  }
}

// The element type of each dtype on the host and on the device.
template <DType D> struct HostScalar;
template <> struct HostScalar<DType::F32> { using type = float; };
template <> struct HostScalar<DType::F64> { using type = double; };
template <> struct HostScalar<DType::BF16> { using type = BFloat16; };
template <> struct HostScalar<DType::I32> { using type = int32_t; };
template <> struct HostScalar<DType::I64> { using type = int64_t; };
template <> struct HostScalar<DType::U8> { using type = uint8_t; };

template <DType D> struct DeviceScalar : HostScalar<D> {};
#if defined(FF_WITH_CUDA) || defined(__CUDACC__)
template <> struct DeviceScalar<DType::BF16> { using type = __nv_bfloat16; };
#endif

}  // namespace kernels

}  // namespace ff
