// safetensors: round trips, the exact bytes we write, and an error naming the file for every
// kind of malformed input.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <random>
#include <string>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "kernels/common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using ff::DType;
using ff::io::TensorRecord;

namespace {

struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::random_device device;
    path = fs::temp_directory_path() / fmt::format("ff_test_safetensors_{}_{:08x}", ::getpid(), device());
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// A record whose bytes are a recognisable pattern.
TensorRecord make_record(std::string name, DType dtype, std::vector<int64_t> shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  TensorRecord record{std::move(name), dtype, std::move(shape), {}};
  record.bytes.resize(n * ff::dtype_size(dtype));
  for (size_t i = 0; i < record.bytes.size(); ++i) record.bytes[i] = static_cast<uint8_t>(i * 7 + record.name.size());
  return record;
}

std::vector<uint8_t> le64(uint64_t v) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
  return out;
}

// A file from a header length, a header text and data bytes, for malformed inputs.
void write_raw(const fs::path& path, uint64_t header_length, const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes = le64(header_length);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  ff::io::write_file_atomic(path, bytes);
}

void write_raw(const fs::path& path, const std::string& header, const std::vector<uint8_t>& data) {
  write_raw(path, header.size(), header, data);
}

// The ff::UserError message load_safetensors throws for path ("" if it does not throw).
std::string load_error(const fs::path& path) {
  try {
    ff::io::load_safetensors(path);
  } catch (const ff::UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("safetensors round-trips every dtype, 0-d and empty tensors, and metadata", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "all.safetensors";
  const std::vector<TensorRecord> records{
      make_record("f32.matrix", DType::F32, {3, 5}),
      make_record("f64.vector", DType::F64, {7}),
      make_record("bf16.cube", DType::BF16, {2, 3, 1}),
      make_record("i32.scalar", DType::I32, {}),
      make_record("i64.vector", DType::I64, {3}),
      make_record("u8.odd", DType::U8, {5}),
      make_record("empty.vector", DType::F32, {0}),
      make_record("empty.matrix", DType::I64, {4, 0}),
  };
  const ff::io::Metadata metadata{{"format", "pt"}, {"step", "1234"}, {"note", "quotes \" and unicode \u00e9"}};
  ff::io::save_safetensors(file, records, metadata);

  const ff::io::SafetensorsFile loaded = ff::io::load_safetensors(file);
  CHECK(loaded.metadata == metadata);
  REQUIRE(loaded.tensors.size() == records.size());
  for (const TensorRecord& want : records) {
    const TensorRecord* got = loaded.find(want.name);
    REQUIRE(got != nullptr);
    CHECK(got->dtype == want.dtype);
    CHECK(got->shape == want.shape);
    CHECK(got->bytes == want.bytes);
  }
  CHECK(loaded.find("missing") == nullptr);
  CHECK(loaded.find("i32.scalar")->bytes.size() == 4);  // 0-d: one element

  // No metadata and no tensors at all is a valid file too.
  ff::io::save_safetensors(file, std::vector<TensorRecord>{});
  const ff::io::SafetensorsFile empty = ff::io::load_safetensors(file);
  CHECK(empty.tensors.empty());
  CHECK(empty.metadata.empty());
  CHECK(ff::io::read_file(file) == std::vector<uint8_t>{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '});
}

TEST_CASE("safetensors writes the exact bytes of the format", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "small.safetensors";
  TensorRecord a{"a", DType::U8, {3}, {1, 2, 3}};
  TensorRecord b{"b", DType::I32, {2}, {}};
  const int32_t values[2] = {1, -2};
  b.bytes.resize(8);
  std::memcpy(b.bytes.data(), values, 8);
  ff::io::save_safetensors(file, {a, b}, {{"format", "pt"}});

  // Metadata first, then the 4-byte I32 before the 1-byte U8; 138 bytes of JSON padded with
  // 6 spaces to 144 = 0x90.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}      )";
  const std::string length("\x90\0\0\0\0\0\0\0", 8);
  const std::string data("\x01\0\0\0\xfe\xff\xff\xff\x01\x02\x03", 11);  // I32 1, -2; U8 1, 2, 3
  const std::string all = length + header + data;
  const std::vector<uint8_t> expected(all.begin(), all.end());
  CHECK(header.size() == 144);
  CHECK(ff::io::read_file(file) == expected);

  // The order of the records does not change the bytes.
  ff::io::save_safetensors(file, {b, a}, {{"format", "pt"}});
  CHECK(ff::io::read_file(file) == expected);
}

TEST_CASE("safetensors aligns every tensor to its element size", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "aligned.safetensors";
  ff::io::save_safetensors(file, {make_record("z_u8", DType::U8, {3}), make_record("y_bf16", DType::BF16, {3}),
                                  make_record("x_f32", DType::F32, {3}), make_record("w_f64", DType::F64, {1})});
  const std::vector<uint8_t> bytes = ff::io::read_file(file);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  CHECK(header_length % 8 == 0);
  const ff::io::SafetensorsFile loaded = ff::io::load_safetensors(file);
  std::vector<std::string> order;
  for (const TensorRecord& r : loaded.tensors) order.push_back(r.name);
  CHECK(order == std::vector<std::string>{"w_f64", "x_f32", "y_bf16", "z_u8"});  // offsets 0, 8, 20, 26
}

TEST_CASE("safetensors refuses to write duplicate names or inconsistent records", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "model.safetensors";
  ff::io::save_safetensors(file, {make_record("w", DType::F32, {2})});
  const std::vector<uint8_t> before = ff::io::read_file(file);

  CHECK_THROWS_WITH(ff::io::save_safetensors(file, {make_record("w", DType::F32, {2}), make_record("w", DType::U8, {1})}),
                    Contains("duplicate tensor name 'w'") && Contains(file.string()));
  TensorRecord short_bytes = make_record("v", DType::F32, {4});
  short_bytes.bytes.pop_back();
  CHECK_THROWS_WITH(ff::io::save_safetensors(file, {short_bytes}), Contains("has 15 bytes, expected 16"));
  CHECK_THROWS_AS(ff::io::save_safetensors(file, {make_record("__metadata__", DType::U8, {1})}), ff::Error);
  TensorRecord negative{"n", DType::F32, {-1}, {}};
  CHECK_THROWS_AS(ff::io::save_safetensors(file, {negative}), ff::Error);
  CHECK(ff::io::read_file(file) == before);
}

TEST_CASE("malformed safetensors files give errors naming the file and the problem", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "broken.safetensors";
  const std::string good_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<uint8_t> eight(8, 0);

  SECTION("missing file") {
    CHECK_THAT(load_error(dir.path / "nope.safetensors"), Contains("nope.safetensors") && Contains("No such file"));
  }
  SECTION("shorter than the length field") {
    ff::io::write_file_atomic(file, std::vector<uint8_t>{1, 2, 3});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("is 3 bytes, shorter than the 8-byte"));
    ff::io::write_file_atomic(file, std::vector<uint8_t>{});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("is 0 bytes"));
  }
  SECTION("header length beyond the file") {
    write_raw(file, 1000, "{}", {});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("1000-byte header but only 2 bytes follow"));
  }
  SECTION("absurd header length") {
    write_raw(file, 0x4141414141414141ull, "{}", {});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("more than the 100000000-byte limit"));
  }
  SECTION("header not JSON") {
    write_raw(file, "{\"w\": [1, 2", {});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("not valid JSON"));
  }
  SECTION("header not an object") {
    write_raw(file, "[1, 2, 3]", {});
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("is a JSON array, expected an object"));
  }
  SECTION("entry missing a field") {
    write_raw(file, R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("entry 'w' has no \"shape\""));
    write_raw(file, R"({"w":{"shape":[2],"data_offsets":[0,8]}})", eight);
    CHECK_THAT(load_error(file), Contains("entry 'w' has no \"dtype\""));
    write_raw(file, R"({"w":{"dtype":"F32","shape":[2]}})", eight);
    CHECK_THAT(load_error(file), Contains("entry 'w' has no \"data_offsets\""));
    write_raw(file, R"({"w":3})", eight);
    CHECK_THAT(load_error(file), Contains("entry 'w' is a JSON number"));
  }
  SECTION("unknown dtype") {
    write_raw(file, R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eight);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("dtype 'F16', which is not supported") &&
                                     Contains("F32, F64, BF16, I32, I64, U8"));
  }
  SECTION("bad shape or offsets") {
    write_raw(file, R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight);
    CHECK_THAT(load_error(file), Contains("expected an array of non-negative integers"));
    write_raw(file, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight);
    CHECK_THAT(load_error(file), Contains("expected [begin, end] with integers 0 <= begin <= end"));
  }
  SECTION("header lying about sizes") {
    write_raw(file, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("needs 12 bytes but its data_offsets [0, 8] span 8"));
    write_raw(file, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("extend past the 8 bytes of tensor data"));
  }
  SECTION("overlapping, gapped and trailing data") {
    write_raw(file, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              std::vector<uint8_t>(12, 0));
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("entries 'a' [0, 8] and 'b' [4, 12] overlap"));
    write_raw(file, R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", std::vector<uint8_t>(4, 0));
    CHECK_THAT(load_error(file), Contains("2 unused bytes at data offset 0 before entry 'a'"));
    write_raw(file, "{" + good_entry + "}", std::vector<uint8_t>(11, 0));
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("3 bytes of trailing data"));
  }
  SECTION("duplicate names and bad metadata") {
    write_raw(file, "{" + good_entry + "," + good_entry + "}", eight);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("names 'w' twice"));
    write_raw(file, R"({"__metadata__":{"step":5},)" + good_entry + "}", eight);
    CHECK_THAT(load_error(file), Contains("\"__metadata__\" value of 'step' is 5, expected a string"));
  }
  SECTION("a valid file cut short") {
    ff::io::save_safetensors(file, {make_record("w", DType::F64, {16}), make_record("b", DType::F32, {3})});
    std::vector<uint8_t> bytes = ff::io::read_file(file);
    bytes.resize(bytes.size() - 5);
    ff::io::write_file_atomic(file, bytes);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("extend past"));
    bytes.resize(20);
    ff::io::write_file_atomic(file, bytes);
    CHECK_THAT(load_error(file), Contains(file.string()) && Contains("bytes follow the length field"));
  }
  SECTION("the well-formed reference entry loads") {
    write_raw(file, "{" + good_entry + "}", eight);
    CHECK(load_error(file).empty());
  }
}
