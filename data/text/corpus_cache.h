#pragma once
// The binary cache of an encoded corpus: vocabulary + the ids of every split + fingerprints of
// the text files they came from. Layout (little-endian):
//
//   header (64 bytes): magic "FFTXTCOR", u32 version, u32 header bytes, u64 payload bytes,
//                      u64 payload checksum, u64 metadata checksum, u64 checksum of the 40
//                      bytes before it, zeros (checksums: XXH3-64, core/io/checksum.h)
//   payload:           u64 metadata bytes, metadata (per split: file name, size, mtime,
//                      content hash; unk symbol; vocabulary size; arena bytes; id counts),
//                      u64 symbol offsets[V + 1], i64 counts[V], the symbol arena, zero
//                      padding to 4 bytes, i32 ids of train, valid, test
//
// A file with a wrong magic or version, a size that disagrees with its header, or a checksum
// mismatch is reported as corrupt and never used.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/text/file_io.h"
#include "data/text/split.h"
#include "data/text/vocab.h"

namespace ff::data {

// 2: checksums and content hashes are XXH3-64 (1 used a hash of our own).
inline constexpr uint32_t kCorpusCacheVersion = 2;

struct CorpusSource {
  std::string file_name;  // e.g. "train.txt" or "wiki.train.tokens"
  FileFingerprint fingerprint;
  friend bool operator==(const CorpusSource&, const CorpusSource&) = default;
};

struct CorpusCacheMetadata {
  std::array<CorpusSource, kSplitCount> sources;
  std::string unk_symbol;
};

struct CorpusCacheContents {
  CorpusCacheMetadata metadata;
  Vocab vocab;
  std::array<std::vector<int32_t>, kSplitCount> ids;
};

enum class CacheStatus { loaded, missing, stale, corrupt };

struct CacheReadResult {
  CacheStatus status = CacheStatus::missing;
  std::string reason;            // why it was not loaded
  CorpusCacheContents contents;  // filled when status == loaded
};

// Returns an empty string when the cached metadata describes the current text files, else
// the reason it does not. Called before the large arrays are read.
using CacheCurrentCheck = std::function<std::string(const CorpusCacheMetadata&)>;

CacheReadResult read_corpus_cache(const std::filesystem::path& path, const CacheCurrentCheck& is_current);

// Writes atomically (temporary file in the same directory, fsync, rename). ff::Error when
// the directory is not writable.
void write_corpus_cache(const std::filesystem::path& path, const CorpusCacheContents& contents);

}  // namespace ff::data
