#include "core/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "kernels/common.h"

namespace ff::io {

static_assert(std::endian::native == std::endian::little, "safetensors bytes are little-endian");

namespace {

using OrderedJson = nlohmann::ordered_json;

std::string supported_dtypes() {
  return fmt::format("{}, {}, {}, {}, {}, {}", dtype_name(DType::F32), dtype_name(DType::F64),
                     dtype_name(DType::BF16), dtype_name(DType::I32), dtype_name(DType::I64),
                     dtype_name(DType::U8));
}

// product(shape) * element_size, or false on overflow.
bool byte_size(std::span<const int64_t> shape, size_t element_size, uint64_t* out) {
  uint64_t size = element_size;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(size, static_cast<uint64_t>(dim), &size)) return false;
  }
  *out = size;
  return true;
}

// ---- reading -------------------------------------------------------------------------

// A read-only file descriptor that reads exactly what is asked or reports the file truncated.
class Reader {
 public:
  Reader(const std::filesystem::path& path, Checksum* checksum) : path_(path), checksum_(checksum) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    FF_USER_CHECK(fd_ >= 0, "cannot open safetensors file '{}': {}", path.string(), std::strerror(errno));
    struct stat info;
    if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd_);
      throw UserError(fmt::format("safetensors file '{}' is not a regular file", path.string()));
    }
    size_ = static_cast<uint64_t>(info.st_size);
  }
  ~Reader() { ::close(fd_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  uint64_t size() const { return size_; }

  void read(void* dst, uint64_t n) {
    auto* p = static_cast<uint8_t*>(dst);
    const uint64_t total = n;
    while (n > 0) {
      const ssize_t got = ::read(fd_, p, std::min<uint64_t>(n, 1u << 30));
      if (got < 0 && errno == EINTR) continue;
      FF_USER_CHECK(got >= 0, "reading safetensors file '{}' failed: {}", path_.string(), std::strerror(errno));
      FF_USER_CHECK(got > 0, "safetensors file '{}' ended early (it shrank while being read?)", path_.string());
      p += got;
      n -= static_cast<uint64_t>(got);
    }
    if (checksum_) checksum_->update(dst, total);
  }

 private:
  std::filesystem::path path_;
  Checksum* checksum_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Checks one header entry and returns it; `where` prefixes every message.
Entry parse_entry(const std::string& where, const std::string& name, const OrderedJson& value) {
  const std::string entry = fmt::format("{}: entry '{}'", where, name);
  FF_USER_CHECK(value.is_object(), "{} is a JSON {}, expected an object with \"dtype\", \"shape\" and \"data_offsets\"",
                entry, value.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    FF_USER_CHECK(value.contains(key), "{} has no \"{}\" (expected \"dtype\", \"shape\" and \"data_offsets\")", entry, key);
  }
  Entry out;
  out.name = name;
  const OrderedJson& dtype = value["dtype"];
  FF_USER_CHECK(dtype.is_string(), "{}: \"dtype\" is a JSON {}, expected a string such as \"F32\"", entry, dtype.type_name());
  FF_USER_CHECK(parse_dtype(dtype.get<std::string>(), &out.dtype), "{} has dtype '{}', which is not supported (supported: {})",
                entry, dtype.get<std::string>(), supported_dtypes());

  const OrderedJson& shape = value["shape"];
  FF_USER_CHECK(shape.is_array(), "{}: \"shape\" is {}, expected an array of non-negative integers", entry, shape.dump());
  for (const OrderedJson& dim : shape) {
    FF_USER_CHECK(dim.is_number_unsigned() || (dim.is_number_integer() && dim.get<int64_t>() >= 0),
                  "{}: \"shape\" is {}, expected an array of non-negative integers", entry, shape.dump());
    FF_USER_CHECK(dim.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), "{}: dimension {} is too large", entry,
                  dim.dump());
    out.shape.push_back(dim.get<int64_t>());
  }

  const OrderedJson& offsets = value["data_offsets"];
  const bool offsets_ok = offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                          offsets[1].is_number_unsigned() && offsets[0].get<uint64_t>() <= offsets[1].get<uint64_t>();
  FF_USER_CHECK(offsets_ok, "{}: \"data_offsets\" is {}, expected [begin, end] with integers 0 <= begin <= end", entry,
                offsets.dump());
  out.begin = offsets[0].get<uint64_t>();
  out.end = offsets[1].get<uint64_t>();

  uint64_t expected = 0;
  FF_USER_CHECK(byte_size(out.shape, dtype_size(out.dtype), &expected), "{}: shape {} is too large", entry,
                shape_text(out.shape));
  FF_USER_CHECK(out.end - out.begin == expected,
                "{} ({}, shape {}) needs {} bytes but its data_offsets [{}, {}] span {} bytes", entry,
                dtype_name(out.dtype), shape_text(out.shape), expected, out.begin, out.end, out.end - out.begin);
  return out;
}

Metadata parse_metadata(const std::string& where, const OrderedJson& value) {
  FF_USER_CHECK(value.is_object(), "{}: \"__metadata__\" is a JSON {}, expected an object of strings", where,
                value.type_name());
  Metadata metadata;
  for (const auto& [key, item] : value.items()) {
    FF_USER_CHECK(item.is_string(), "{}: \"__metadata__\" value of '{}' is {}, expected a string", where, key,
                  item.dump());
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

}  // namespace

const TensorRecord* SafetensorsFile::find(std::string_view name) const {
  for (const TensorRecord& record : tensors) {
    if (record.name == name) return &record;
  }
  return nullptr;
}

SafetensorsFile load_safetensors(const std::filesystem::path& path, Checksum* checksum) {
  const std::string where = fmt::format("safetensors file '{}'", path.string());
  Reader reader(path, checksum);
  const uint64_t file_size = reader.size();
  FF_USER_CHECK(file_size >= 8, "{} is {} bytes, shorter than the 8-byte header length that starts the format", where,
                file_size);
  uint8_t length_bytes[8];
  reader.read(length_bytes, 8);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
  FF_USER_CHECK(header_size <= kMaxSafetensorsHeader,
                "{} declares a {}-byte header, more than the {}-byte limit: not a safetensors file, or corrupt", where,
                header_size, kMaxSafetensorsHeader);
  FF_USER_CHECK(header_size <= file_size - 8,
                "{} declares a {}-byte header but only {} bytes follow the length field: truncated or not a "
                "safetensors file",
                where, header_size, file_size - 8);
  std::string header_text(header_size, '\0');
  reader.read(header_text.data(), header_size);
  const uint64_t data_size = file_size - 8 - header_size;

  // Duplicate top-level keys would silently overwrite each other in the parsed object.
  std::set<std::string> seen;
  std::string duplicate;
  const auto catch_duplicates = [&](int depth, OrderedJson::parse_event_t event, OrderedJson& parsed) {
    if (depth == 1 && event == OrderedJson::parse_event_t::key && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  OrderedJson header;
  try {
    header = OrderedJson::parse(header_text, catch_duplicates);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: the header is not valid JSON ({})", where, e.what()));
  }
  FF_USER_CHECK(header.is_object(), "{}: the header is a JSON {}, expected an object of tensor entries", where,
                header.type_name());
  FF_USER_CHECK(duplicate.empty(), "{}: the header names '{}' twice, expected unique names", where, duplicate);

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      file.metadata = parse_metadata(where, value);
    } else {
      entries.push_back(parse_entry(where, name, value));
    }
  }

  // Tensors must tile [0, data_size) exactly: no overlap, no gap, nothing after the last.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t position = 0;
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    FF_USER_CHECK(entry.end <= data_size,
                  "{}: entry '{}' data_offsets [{}, {}] extend past the {} bytes of tensor data: truncated file or "
                  "wrong offsets",
                  where, entry.name, entry.begin, entry.end, data_size);
    FF_USER_CHECK(entry.begin >= position, "{}: entries '{}' [{}, {}] and '{}' [{}, {}] overlap", where,
                  previous ? previous->name : "", previous ? previous->begin : 0, position, entry.name, entry.begin,
                  entry.end);
    FF_USER_CHECK(entry.begin == position,
                  "{}: {} unused bytes at data offset {} before entry '{}', expected tensors packed without gaps",
                  where, entry.begin - position, position, entry.name);
    position = entry.end;
    previous = &entry;
  }
  FF_USER_CHECK(position == data_size,
                "{}: {} bytes of trailing data after the last tensor (tensors end at data offset {}, the file has {})",
                where, data_size - position, position, data_size);

  file.tensors.reserve(entries.size());
  for (Entry& entry : entries) {
    TensorRecord record;
    record.name = std::move(entry.name);
    record.dtype = entry.dtype;
    record.shape = std::move(entry.shape);
    record.bytes.resize(entry.end - entry.begin);
    reader.read(record.bytes.data(), record.bytes.size());
    file.tensors.push_back(std::move(record));
  }
  return file;
}

// ---- writing -------------------------------------------------------------------------

void write_safetensors(std::ostream& out, std::span<const TensorView> tensors, const Metadata& metadata,
                       std::string_view what) {
  std::vector<const TensorView*> order;
  order.reserve(tensors.size());
  std::set<std::string_view> names;
  for (const TensorView& tensor : tensors) {
    FF_CHECK(!tensor.name.empty(), "writing {}: a tensor has an empty name", what);
    FF_CHECK(tensor.name != "__metadata__", "writing {}: '__metadata__' is reserved, not a tensor name", what);
    FF_CHECK(names.insert(tensor.name).second, "writing {}: duplicate tensor name '{}'", what, tensor.name);
    uint64_t expected = 0;
    FF_CHECK(byte_size(tensor.shape, dtype_size(tensor.dtype), &expected),
             "writing {}: tensor '{}' has a negative or too large dimension in shape [{}]", what, tensor.name,
             fmt::join(tensor.shape, ", "));
    FF_CHECK(tensor.bytes.size() == expected, "writing {}: tensor '{}' ({}, shape [{}]) has {} bytes, expected {}", what,
             tensor.name, dtype_name(tensor.dtype), fmt::join(tensor.shape, ", "), tensor.bytes.size(), expected);
    order.push_back(&tensor);
  }
  // Widest elements first, then by name: every tensor is aligned to its element size.
  std::sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    const size_t wa = dtype_size(a->dtype), wb = dtype_size(b->dtype);
    return wa != wb ? wa > wb : a->name < b->name;
  });

  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorView* tensor : order) {
    OrderedJson entry = OrderedJson::object();
    entry["dtype"] = std::string(dtype_name(tensor->dtype));
    entry["shape"] = std::vector<int64_t>(tensor->shape.begin(), tensor->shape.end());
    entry["data_offsets"] = {offset, offset + tensor->bytes.size()};
    header[std::string(tensor->name)] = std::move(entry);
    offset += tensor->bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("writing {}: a tensor name or metadata string is not valid UTF-8 ({})", what, e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(length_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const TensorView* tensor : order) {
    out.write(reinterpret_cast<const char*>(tensor->bytes.data()), static_cast<std::streamsize>(tensor->bytes.size()));
  }
}

FileChecksum save_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                              const Metadata& metadata) {
  const std::string what = fmt::format("safetensors file '{}'", path.string());
  return write_file_atomic(path, [&](std::ostream& out) { write_safetensors(out, tensors, metadata, what); });
}

FileChecksum save_safetensors(const std::filesystem::path& path, const std::vector<TensorRecord>& tensors,
                              const Metadata& metadata) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const TensorRecord& record : tensors) views.push_back({record.name, record.dtype, record.shape, record.bytes});
  return save_safetensors(path, views, metadata);
}

}  // namespace ff::io
