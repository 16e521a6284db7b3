#pragma once
// A WikiText-style language-modelling corpus: a directory with train/valid/test text files,
// encoded into token ids with a vocabulary built from train (see vocab.h), and cached in a
// binary file so that later loads skip tokenisation (see corpus_cache.h).

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "data/text/corpus_cache.h"
#include "data/text/split.h"
#include "data/text/vocab.h"

namespace ff::data {

struct TextCorpusOptions {
  // Where the cache lives. Empty: `<dir>/.fourierformer-cache-v1.bin`, and when that directory
  // is not writable, `$XDG_CACHE_HOME` (or `~/.cache`) `/fourierformer/corpora/<hash of dir>.bin`.
  std::filesystem::path cache_path;
  // false: always tokenise the text, never read or write a cache.
  bool use_cache = true;
  // true: a cache is used only when every text file still has the size and content hash it
  // recorded (each file is read once to hash it; WikiText-103 takes about a second).
  // false: size and mtime must match; the contents are not read.
  bool verify_content = true;
  // The symbol unknown valid/test words map to.
  std::string unk_symbol = std::string(Vocab::kDefaultUnk);
};

// How a load went, for logs and tests.
struct TextCorpusLoadInfo {
  bool from_cache = false;           // the ids came from the cache file
  bool cache_written = false;        // a new cache file was written
  std::filesystem::path cache_path;  // the cache read or written (empty: none)
  std::string cache_miss_reason;     // why the cache was not used, when it was not
  double seconds = 0;                // wall time of load()
};

class TextCorpus {
 public:
  static constexpr const char* kCacheFileName = ".fourierformer-cache-v1.bin";

  // Loads `dir`, which holds train.txt/valid.txt/test.txt or
  // wiki.train.tokens/wiki.valid.tokens/wiki.test.tokens. ff::UserError naming the directory
  // and the expected names when the files are missing, or naming the file and line for
  // unreadable text or an unknown word with no unk symbol. A cache that is corrupt or does not
  // match the text is rebuilt (with a warning for a corrupt one).
  static TextCorpus load(const std::filesystem::path& dir, const TextCorpusOptions& options = {});

  const Vocab& vocab() const { return vocab_; }
  // The ids of a split: every line's words then <eos> (id 0).
  std::span<const int32_t> ids(Split split) const { return ids_[static_cast<size_t>(split)]; }
  const std::filesystem::path& source_path(Split split) const { return paths_[static_cast<size_t>(split)]; }
  const TextCorpusLoadInfo& load_info() const { return info_; }

 private:
  Vocab vocab_;
  std::array<std::vector<int32_t>, kSplitCount> ids_;
  std::array<std::filesystem::path, kSplitCount> paths_;
  TextCorpusLoadInfo info_;
};

// The text files of a corpus directory, in split order; ff::UserError as in TextCorpus::load.
std::array<std::filesystem::path, kSplitCount> find_corpus_files(const std::filesystem::path& dir);

}  // namespace ff::data
