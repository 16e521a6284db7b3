#include "data/text/corpus_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>

#include "core/io/byte_buffer.h"
#include "core/io/checksum.h"
#include "kernels/common.h"

namespace ff::data {

namespace {

constexpr char kMagic[8] = {'F', 'F', 'T', 'X', 'T', 'C', 'O', 'R'};
constexpr size_t kHeaderBytes = 64;
constexpr uint64_t kMaxMetadataBytes = 1 << 20;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
  uint64_t metadata_checksum;  // of the metadata block alone, checked before it is trusted
  uint64_t header_checksum;    // of the 40 bytes above
  char zeros[16];
};
static_assert(sizeof(Header) == kHeaderBytes);

uint64_t header_checksum(const Header& h) { return io::checksum(&h, offsetof(Header, header_checksum)); }

struct ArraySizes {
  uint64_t vocab_size = 0, arena_bytes = 0;
  std::array<uint64_t, kSplitCount> id_counts{};
  uint64_t payload_bytes(uint64_t metadata_bytes) const {
    uint64_t n = 8 + metadata_bytes + 8 * (vocab_size + 1) + 8 * vocab_size + arena_bytes;
    n += (4 - n % 4) % 4;
    for (uint64_t c : id_counts) n += 4 * c;
    return n;
  }
};

std::vector<uint8_t> encode_metadata(const CorpusCacheMetadata& m, const ArraySizes& sizes) {
  io::ByteWriter w;
  for (const CorpusSource& s : m.sources) {
    w.put_string(s.file_name);
    w.put(s.fingerprint.size);
    w.put(s.fingerprint.mtime_ns);
    w.put(s.fingerprint.content_hash);
  }
  w.put_string(m.unk_symbol);
  w.put(sizes.vocab_size);
  w.put(sizes.arena_bytes);
  for (uint64_t c : sizes.id_counts) w.put(c);
  return w.bytes();
}

bool decode_metadata(std::span<const uint8_t> bytes, CorpusCacheMetadata& m, ArraySizes& sizes) {
  io::ByteReader r(bytes);
  for (CorpusSource& s : m.sources) {
    if (!r.get_string(s.file_name) || !r.get(s.fingerprint.size) || !r.get(s.fingerprint.mtime_ns) ||
        !r.get(s.fingerprint.content_hash))
      return false;
  }
  if (!r.get_string(m.unk_symbol) || !r.get(sizes.vocab_size) || !r.get(sizes.arena_bytes)) return false;
  for (uint64_t& c : sizes.id_counts)
    if (!r.get(c)) return false;
  return r.at_end();
}

// Sequential reads of the payload that feed the checksum as they go.
class PayloadReader {
 public:
  explicit PayloadReader(int fd) : fd_(fd) {}
  bool read(void* dst, size_t n) {
    auto* p = static_cast<char*>(dst);
    const size_t total = n;
    while (n > 0) {
      const ssize_t got = ::read(fd_, p, std::min<size_t>(n, 1 << 30));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    checksum_.update(dst, total);
    return true;
  }
  uint64_t checksum() const { return checksum_.result().hash; }

 private:
  int fd_;
  io::Checksum checksum_;
};

class PayloadWriter {
 public:
  explicit PayloadWriter(AtomicFileWriter& out) : out_(out) {}
  void write(const void* data, size_t n) {
    out_.write(data, n);
    checksum_.update(data, n);
    bytes_ += n;
  }
  uint64_t checksum() const { return checksum_.result().hash; }
  uint64_t bytes() const { return bytes_; }

 private:
  AtomicFileWriter& out_;
  io::Checksum checksum_;
  uint64_t bytes_ = 0;
};

CacheReadResult failed(CacheStatus status, std::string reason) {
  CacheReadResult r;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

CacheReadResult read_corpus_cache(const std::filesystem::path& path, const CacheCurrentCheck& is_current) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return failed(CacheStatus::missing, "no cache file");
    return failed(CacheStatus::missing, fmt::format("cannot open: {}", std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return failed(CacheStatus::corrupt, "not a regular file");
  const auto file_bytes = static_cast<uint64_t>(st.st_size);

  Header h{};
  if (file_bytes < kHeaderBytes || ::read(fd, &h, kHeaderBytes) != static_cast<ssize_t>(kHeaderBytes))
    return failed(CacheStatus::corrupt, fmt::format("{} bytes, shorter than the header", file_bytes));
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    return failed(CacheStatus::corrupt, "wrong magic (not a FourierFormer corpus cache)");
  if (h.header_checksum != header_checksum(h) ||
      std::any_of(std::begin(h.zeros), std::end(h.zeros), [](char c) { return c != 0; }))
    return failed(CacheStatus::corrupt, "header checksum mismatch");
  if (h.version != kCorpusCacheVersion || h.header_bytes != kHeaderBytes)
    return failed(CacheStatus::stale,
                  fmt::format("cache format version {}, expected {}", h.version, kCorpusCacheVersion));
  if (h.payload_bytes != file_bytes - kHeaderBytes)
    return failed(CacheStatus::corrupt, fmt::format("file has {} payload bytes, header says {} (truncated?)",
                                                    file_bytes - kHeaderBytes, h.payload_bytes));

  PayloadReader in(fd);
  uint64_t metadata_bytes = 0;
  if (!in.read(&metadata_bytes, 8) || metadata_bytes > kMaxMetadataBytes || metadata_bytes > h.payload_bytes)
    return failed(CacheStatus::corrupt, "bad metadata length");
  std::vector<uint8_t> metadata_block(metadata_bytes);
  CacheReadResult result;
  ArraySizes sizes;
  if (!in.read(metadata_block.data(), metadata_bytes) ||
      io::checksum(metadata_block.data(), metadata_block.size()) != h.metadata_checksum ||
      !decode_metadata(metadata_block, result.contents.metadata, sizes))
    return failed(CacheStatus::corrupt, "unreadable metadata");
  if (sizes.vocab_size == 0 || sizes.vocab_size >= INT32_MAX || sizes.arena_bytes > h.payload_bytes ||
      std::any_of(sizes.id_counts.begin(), sizes.id_counts.end(),
                  [&](uint64_t c) { return c > h.payload_bytes; }) ||
      sizes.payload_bytes(metadata_bytes) != h.payload_bytes)
    return failed(CacheStatus::corrupt, "array lengths disagree with the file size");
  // Only a cache that passes the structural checks is compared with the text files, and only
  // a current one is read further.
  if (std::string why = is_current(result.contents.metadata); !why.empty())
    return failed(CacheStatus::stale, std::move(why));

  std::vector<uint64_t> offsets(sizes.vocab_size + 1);
  std::vector<int64_t> counts(sizes.vocab_size);
  std::string arena(sizes.arena_bytes, '\0');
  const uint64_t before_padding = 8 + metadata_bytes + 8 * (offsets.size() + counts.size()) + arena.size();
  char padding[4] = {};
  bool ok = in.read(offsets.data(), 8 * offsets.size()) && in.read(counts.data(), 8 * counts.size()) &&
            in.read(arena.data(), arena.size()) && in.read(padding, (4 - before_padding % 4) % 4);
  for (size_t s = 0; ok && s < kSplitCount; ++s) {
    result.contents.ids[s].resize(sizes.id_counts[s]);
    ok = in.read(result.contents.ids[s].data(), 4 * sizes.id_counts[s]);
  }
  if (!ok) return failed(CacheStatus::corrupt, "short read (truncated while reading?)");
  if (in.checksum() != h.payload_checksum) return failed(CacheStatus::corrupt, "payload checksum mismatch");

  try {
    result.contents.vocab = Vocab(SymbolTable(std::move(arena), std::move(offsets)), std::move(counts),
                                  result.contents.metadata.unk_symbol);
  } catch (const Error& e) {
    return failed(CacheStatus::corrupt, fmt::format("bad vocabulary: {}", e.what()));
  }
  const int32_t vocab_size = result.contents.vocab.size();
  for (const auto& ids : result.contents.ids) {
    const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
    if (!ids.empty() && (*lo < 0 || *hi >= vocab_size))
      return failed(CacheStatus::corrupt, "token id outside the vocabulary");
  }
  result.status = CacheStatus::loaded;
  return result;
}

void write_corpus_cache(const std::filesystem::path& path, const CorpusCacheContents& c) {
  const SymbolTable& symbols = c.vocab.symbols();
  ArraySizes sizes;
  sizes.vocab_size = static_cast<uint64_t>(symbols.size());
  sizes.arena_bytes = symbols.arena().size();
  for (size_t s = 0; s < kSplitCount; ++s) sizes.id_counts[s] = c.ids[s].size();
  const std::vector<uint8_t> metadata = encode_metadata(c.metadata, sizes);

  AtomicFileWriter file(path);
  Header h{};
  file.write(&h, sizeof h);  // placeholder until the checksum is known
  PayloadWriter out(file);
  const uint64_t metadata_bytes = metadata.size();
  out.write(&metadata_bytes, 8);
  out.write(metadata.data(), metadata.size());
  out.write(symbols.offsets().data(), 8 * symbols.offsets().size());
  out.write(c.vocab.counts().data(), 8 * c.vocab.counts().size());
  out.write(symbols.arena().data(), symbols.arena().size());
  const char padding[4] = {};
  out.write(padding, (4 - out.bytes() % 4) % 4);
  for (const auto& ids : c.ids) out.write(ids.data(), 4 * ids.size());
  FF_CHECK(out.bytes() == sizes.payload_bytes(metadata_bytes), "cache layout mismatch: {} vs {} bytes",
           out.bytes(), sizes.payload_bytes(metadata_bytes));

  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kCorpusCacheVersion;
  h.header_bytes = kHeaderBytes;
  h.payload_bytes = out.bytes();
  h.payload_checksum = out.checksum();
  h.metadata_checksum = io::checksum(metadata.data(), metadata.size());
  h.header_checksum = header_checksum(h);
  file.pwrite_at(0, &h, sizeof h);
  file.commit();
}

}  // namespace ff::data
