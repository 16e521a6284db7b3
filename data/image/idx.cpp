#include "data/image/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "core/io/atomic_file.h"
#include "kernels/common.h"

namespace ff::data {

namespace fs = std::filesystem;

namespace {

bool is_gzip(std::span<const uint8_t> bytes) { return bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B; }

// zlib counts in 32-bit units.
uInt zlib_chunk(size_t n) { return static_cast<uInt>(std::min<size_t>(n, size_t{1} << 30)); }

// The decompressed content of a gzip file, every member in turn (as gzip -d reads
// concatenated files).
std::vector<uint8_t> gunzip(std::span<const uint8_t> in, const fs::path& path) {
  z_stream z{};
  FF_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, "inflateInit2 failed");  // 16: gzip framing
  struct End {
    z_stream& z;
    ~End() { inflateEnd(&z); }
  } end{z};
  // The trailer's last 4 bytes are the uncompressed size mod 2^32: the first capacity, unless
  // the file is cut short and they are anything.
  const size_t n = in.size();
  const size_t isize = n < 4 ? 0 : in[n - 4] | in[n - 3] << 8 | in[n - 2] << 16 | size_t{in[n - 1]} << 24;
  std::vector<uint8_t> out(std::max<size_t>(isize <= 4 * n ? isize : 4 * n, 1 << 16));
  size_t consumed = 0, produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    z.next_in = const_cast<Bytef*>(in.data() + consumed);
    z.avail_in = zlib_chunk(in.size() - consumed);
    z.next_out = out.data() + produced;
    z.avail_out = zlib_chunk(out.size() - produced);
    const uInt avail_in = z.avail_in, avail_out = z.avail_out;
    const int status = inflate(&z, Z_NO_FLUSH);
    consumed += avail_in - z.avail_in;
    produced += avail_out - z.avail_out;
    if (status == Z_STREAM_END) {
      if (consumed == in.size()) break;
      FF_USER_CHECK(is_gzip(in.subspan(consumed)),
                    "'{}': {} bytes follow the end of the gzip data; expected another gzip member or nothing",
                    path.string(), in.size() - consumed);
      inflateReset(&z);
      continue;
    }
    FF_USER_CHECK(!(status == Z_BUF_ERROR && consumed == in.size()),
                  "'{}': the gzip data are truncated (they end after {} decompressed bytes)", path.string(),
                  produced);
    FF_USER_CHECK(status == Z_OK || status == Z_BUF_ERROR, "'{}': corrupt gzip data ({})", path.string(),
                  z.msg ? z.msg : zError(status));
  }
  out.resize(produced);
  return out;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// What an IDX magic number announces, e.g. "unsigned bytes, 3 dimensions".
std::string describe_magic(uint32_t magic) {
  if ((magic >> 16) != 0) return "not an IDX magic: its first two bytes must be 0";
  const char* type = nullptr;
  switch ((magic >> 8) & 0xFF) {
    case 0x08: type = "unsigned bytes"; break;
    case 0x09: type = "signed bytes"; break;
    case 0x0B: type = "16-bit integers"; break;
    case 0x0C: type = "32-bit integers"; break;
    case 0x0D: type = "32-bit floats"; break;
    case 0x0E: type = "64-bit floats"; break;
    default: return fmt::format("unknown element type 0x{:02X}", (magic >> 8) & 0xFF);
  }
  const uint32_t dims = magic & 0xFF;
  return fmt::format("{}, {} dimension{}", type, dims, dims == 1 ? "" : "s");
}

// The file's (decompressed) content after checking its header: unsigned bytes with `dims`
// dimensions (`what`: "images" or "labels"). sizes: the header's dimension sizes.
std::vector<uint8_t> read_idx(const fs::path& path, uint32_t dims, const char* what, std::array<int64_t, 3>& sizes) {
  std::vector<uint8_t> bytes = io::read_file(path);
  const bool gzipped = is_gzip(bytes);
  if (gzipped) bytes = gunzip(bytes, path);
  const char* after = gzipped ? " after decompression" : "";
  const uint32_t expected_magic = 0x0800 | dims;
  const size_t header_bytes = 4 + 4 * size_t{dims};
  FF_USER_CHECK(bytes.size() >= 4, "'{}': {} bytes{}, too short for an IDX file; expected the magic 0x{:08X} ({}: {})",
                path.string(), bytes.size(), after, expected_magic, what, describe_magic(expected_magic));
  const uint32_t magic = big_endian_u32(bytes.data());
  FF_USER_CHECK(magic == expected_magic, "'{}': IDX magic 0x{:08X} ({}); expected 0x{:08X} ({}: {})", path.string(),
                magic, describe_magic(magic), expected_magic, what, describe_magic(expected_magic));
  FF_USER_CHECK(bytes.size() >= header_bytes, "'{}': the IDX header is truncated: {} bytes{}, expected {}",
                path.string(), bytes.size(), after, header_bytes);
  int64_t expected = 1;
  for (uint32_t d = 0; d < dims; ++d) {
    sizes[d] = big_endian_u32(bytes.data() + 4 + 4 * d);
    expected *= sizes[d];  // three u32 sizes can overflow: stop early
    FF_USER_CHECK(expected <= (int64_t{1} << 40), "'{}': the IDX header's sizes ask for more than 2^40 bytes",
                  path.string());
  }
  const int64_t have = static_cast<int64_t>(bytes.size() - header_bytes);
  const std::string content = dims == 3 ? fmt::format("{} images of {} x {}", sizes[0], sizes[1], sizes[2])
                                        : fmt::format("{} {}", sizes[0], what);
  FF_USER_CHECK(have == expected, "'{}': {}: the header says {} ({} bytes), the file has {} bytes after the header{}",
                path.string(), have < expected ? "truncated" : "trailing bytes", content, expected, have, after);
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header_bytes));
  return bytes;
}

}  // namespace

Image IdxImages::image(int64_t i) const {
  FF_CHECK(i >= 0 && i < count, "image {} of {}", i, count);
  const auto begin = pixels.begin() + i * rows * cols;
  return Image{rows, cols, 1, std::vector<uint8_t>(begin, begin + rows * cols)};
}

IdxImages read_idx_images(const fs::path& path) {
  std::array<int64_t, 3> sizes{};
  IdxImages images;
  images.pixels = read_idx(path, 3, "images", sizes);
  images.count = sizes[0];
  images.rows = sizes[1];
  images.cols = sizes[2];
  return images;
}

std::vector<uint8_t> read_idx_labels(const fs::path& path) {
  std::array<int64_t, 3> sizes{};
  return read_idx(path, 1, "labels", sizes);
}

IdxDataset read_idx_dataset(const fs::path& images_path, const fs::path& labels_path) {
  IdxDataset d{read_idx_images(images_path), read_idx_labels(labels_path)};
  FF_USER_CHECK(static_cast<int64_t>(d.labels.size()) == d.images.count,
                "'{}' holds {} images but '{}' holds {} labels; expected one label per image (files of different "
                "splits?)",
                images_path.string(), d.images.count, labels_path.string(), d.labels.size());
  return d;
}

}  // namespace ff::data
