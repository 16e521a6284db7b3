#pragma once
// The safetensors checkpoint format, at the byte level (no Tensor: core's tensors convert
// to and from these records).
//
// Layout (the format PyTorch's `safetensors` package reads and writes):
//   [8 bytes]  N, the header length, little-endian uint64
//   [N bytes]  JSON object, padded with spaces to a multiple of 8:
//                {"__metadata__": {"key": "value", ...},              (only when non-empty)
//                 "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//   [rest]     tensor bytes; data_offsets are relative to the start of this region, tensors
//              are row-major, little-endian, packed without gaps; the file ends with the last one.
// We write tensors ordered by element size (8, 4, 2, 1 bytes), then by name, so every tensor
// starts at a multiple of its element size in the file (the data region starts at 8 + N,
// a multiple of 8), and the same records always give the same bytes.
// See docs/io.md.

#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/checksum.h"
#include "core/tensor/dtype.h"

namespace ff::io {

using Metadata = std::map<std::string, std::string>;

// One tensor with its bytes (row-major, little-endian).
struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // {} is a 0-d tensor (one element)
  std::vector<uint8_t> bytes;  // product(shape) * dtype_size(dtype) bytes
};

// The same without owning anything, for writing without copies; the pointed-to data must
// outlive the save call.
struct TensorView {
  std::string_view name;
  DType dtype = DType::F32;
  std::span<const int64_t> shape;
  std::span<const uint8_t> bytes;
};

struct SafetensorsFile {
  std::vector<TensorRecord> tensors;  // in file (data offset) order
  Metadata metadata;

  // nullptr when there is no tensor of that name.
  const TensorRecord* find(std::string_view name) const;
};

// Writes the file atomically (io/atomic_file.h). Throws ff::Error for records that cannot be
// written: duplicate or empty names, "__metadata__" as a name, a negative dimension, or bytes
// whose size is not product(shape) * dtype_size. Returns the file's size and checksum.
FileChecksum save_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                              const Metadata& metadata = {});
FileChecksum save_safetensors(const std::filesystem::path& path, const std::vector<TensorRecord>& tensors,
                              const Metadata& metadata = {});

// The file content without the file; `what` names the destination in error messages.
void write_safetensors(std::ostream& out, std::span<const TensorView> tensors, const Metadata& metadata,
                       std::string_view what);

// Reads and validates a whole file in one sequential pass. Anything malformed (truncated,
// header length beyond the file or above 100 MB, bad JSON, a missing or wrong field, an
// unsupported dtype, offsets that do not match the shape, overlap, gaps, trailing bytes)
// throws ff::UserError naming the file, what is wrong and what was expected. A given `checksum`
// is fed every byte as it is read; after a successful load that is the whole file, in order.
SafetensorsFile load_safetensors(const std::filesystem::path& path, Checksum* checksum = nullptr);

// Largest header we accept, as the reference implementation.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

}  // namespace ff::io
