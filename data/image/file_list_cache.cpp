#include "data/image/file_list_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
#include <system_error>

#include "core/io/atomic_file.h"
#include "core/io/byte_buffer.h"
#include "core/io/checksum.h"
#include "kernels/common.h"

namespace ff::data {

namespace {

constexpr char kMagic[8] = {'F', 'F', 'I', 'M', 'G', 'L', 'S', 'T'};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t zero;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
};
static_assert(sizeof(Header) == 32);

// Empty when the listing is internally consistent, else what is wrong.
std::string inconsistency(const FolderListing& l) {
  if (l.class_stamps.size() != l.classes.size() || l.class_begin.size() != l.classes.size() + 1)
    return "class arrays of different lengths";
  if (l.name_begin.empty() || l.name_begin.front() != 0 || l.name_begin.back() != l.names.size())
    return "name offsets do not span the names";
  if (!std::is_sorted(l.name_begin.begin(), l.name_begin.end())) return "name offsets out of order";
  if (l.class_begin.front() != 0 || l.class_begin.back() != l.name_begin.size() - 1 ||
      std::adjacent_find(l.class_begin.begin(), l.class_begin.end(), std::greater_equal<>()) != l.class_begin.end())
    return "class file counts disagree with the names";
  if (!std::is_sorted(l.classes.begin(), l.classes.end())) return "classes out of order";
  return {};
}

}  // namespace

FileListCacheRead read_file_list_cache(const std::filesystem::path& path) {
  FileListCacheRead r;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    r.missing = true;
    r.reason = "no cache file";
    return r;
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_file(path);
  } catch (const UserError& e) {
    r.reason = e.what();
    return r;
  }
  Header h{};
  if (bytes.size() < sizeof h) {
    r.reason = fmt::format("{} bytes, shorter than the header", bytes.size());
    return r;
  }
  std::memcpy(&h, bytes.data(), sizeof h);
  const std::span<const uint8_t> payload = std::span<const uint8_t>(bytes).subspan(sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) {
    r.reason = "wrong magic (not a FourierFormer file-list cache)";
  } else if (h.version != kFileListCacheVersion || h.zero != 0) {
    r.reason = fmt::format("format version {}, expected {}", h.version, kFileListCacheVersion);
  } else if (h.payload_bytes != payload.size()) {
    r.reason = fmt::format("{} payload bytes, the header says {} (truncated?)", payload.size(), h.payload_bytes);
  } else if (io::checksum(payload) != h.payload_checksum) {
    r.reason = "payload checksum mismatch";
  }
  if (!r.reason.empty()) return r;

  FolderListing& l = r.listing;
  io::ByteReader in(payload);
  uint64_t classes = 0, files = 0, name_bytes = 0;
  bool ok = in.get(classes) && classes <= in.remaining();
  if (ok) {
    l.classes.resize(classes);
    l.class_stamps.resize(classes);
    l.class_begin.assign(1, 0);
  }
  for (uint64_t c = 0; ok && c < classes; ++c) {
    DirStamp& s = l.class_stamps[c];
    ok = in.get_string(l.classes[c]) && in.get(s.mtime_ns) && in.get(s.size) && in.get(s.inode) && in.get(files);
    l.class_begin.push_back(l.class_begin.back() + files);
  }
  ok = ok && in.get(l.skipped_files) && in.get(name_bytes) && name_bytes <= in.remaining();
  if (ok) {
    l.names.resize(name_bytes);
    ok = in.get_bytes(l.names.data(), name_bytes) && in.remaining() % 8 == 0;
  }
  if (ok) {
    l.name_begin.resize(in.remaining() / 8);
    ok = in.get_bytes(l.name_begin.data(), 8 * l.name_begin.size());
  }
  if (!ok) {
    r.reason = "payload shorter than its contents";
    return r;
  }
  if (std::string why = inconsistency(l); !why.empty()) {
    r.reason = "inconsistent payload: " + why;
    return r;
  }
  r.loaded = true;
  return r;
}

void write_file_list_cache(const std::filesystem::path& path, const FolderListing& l) {
  FF_CHECK(inconsistency(l).empty(), "writing an inconsistent listing: {}", inconsistency(l));
  io::ByteWriter payload;
  payload.put(uint64_t{l.classes.size()});
  for (size_t c = 0; c < l.classes.size(); ++c) {
    payload.put_string(l.classes[c]);
    payload.put(l.class_stamps[c].mtime_ns);
    payload.put(l.class_stamps[c].size);
    payload.put(l.class_stamps[c].inode);
    payload.put(l.class_begin[c + 1] - l.class_begin[c]);
  }
  payload.put(l.skipped_files);
  payload.put(uint64_t{l.names.size()});
  payload.put_bytes(l.names.data(), l.names.size());
  payload.put_bytes(l.name_begin.data(), 8 * l.name_begin.size());

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFileListCacheVersion;
  h.payload_bytes = payload.bytes().size();
  h.payload_checksum = io::checksum(payload.bytes());
  io::write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(reinterpret_cast<const char*>(payload.bytes().data()), static_cast<std::streamsize>(payload.bytes().size()));
  });
}

}  // namespace ff::data
