#include "data/text/text_corpus.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <system_error>

#include "core/io/checksum.h"
#include "core/io/user_cache.h"
#include "kernels/common.h"

namespace ff::data {

namespace fs = std::filesystem;

namespace {

constexpr std::array<std::array<const char*, kSplitCount>, 2> kLayouts = {{
    {"train.txt", "valid.txt", "test.txt"},
    {"wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"},
}};

// The fingerprints of the current text files, content hashes computed at most once.
class CurrentSources {
 public:
  CurrentSources(const std::array<fs::path, kSplitCount>& paths, bool verify_content)
      : paths_(paths), verify_content_(verify_content) {
    for (size_t s = 0; s < kSplitCount; ++s) stat_[s] = stat_fingerprint(paths_[s]);
  }

  // Empty when `m` describes these files, else why not.
  std::string mismatch(const CorpusCacheMetadata& m, const std::string& unk_symbol) {
    if (m.unk_symbol != unk_symbol)
      return fmt::format("cache maps unknown words to '{}', asked for '{}'", m.unk_symbol, unk_symbol);
    for (size_t s = 0; s < kSplitCount; ++s) {
      const CorpusSource& cached = m.sources[s];
      const std::string name = paths_[s].filename().string();
      if (cached.file_name != name)
        return fmt::format("cache was built from '{}', the directory now has '{}'", cached.file_name, name);
      if (cached.fingerprint.size != stat_[s].size)
        return fmt::format("'{}' changed size ({} -> {} bytes)", name, cached.fingerprint.size,
                           stat_[s].size);
      if (verify_content_) {
        if (!hashes_[s]) hashes_[s] = io::checksum_file(paths_[s]).hash;
        if (cached.fingerprint.content_hash != *hashes_[s]) return fmt::format("'{}' changed contents", name);
      } else if (cached.fingerprint.mtime_ns != stat_[s].mtime_ns) {
        return fmt::format("'{}' changed modification time", name);
      }
    }
    return {};
  }

  FileFingerprint at_read_time(size_t s) const { return stat_[s]; }

 private:
  const std::array<fs::path, kSplitCount>& paths_;
  bool verify_content_;
  std::array<FileFingerprint, kSplitCount> stat_;
  std::array<std::optional<uint64_t>, kSplitCount> hashes_;
};

}  // namespace

std::array<fs::path, kSplitCount> find_corpus_files(const fs::path& dir) {
  std::error_code ec;
  FF_USER_CHECK(fs::is_directory(dir, ec), "corpus directory '{}' does not exist or is not a directory",
                dir.string());
  std::array<std::vector<std::string>, kLayouts.size()> missing;
  for (size_t l = 0; l < kLayouts.size(); ++l) {
    std::array<fs::path, kSplitCount> paths;
    for (size_t s = 0; s < kSplitCount; ++s) {
      paths[s] = dir / kLayouts[l][s];
      if (!fs::exists(paths[s], ec)) missing[l].push_back(kLayouts[l][s]);
    }
    if (missing[l].empty()) return paths;
  }
  const size_t closest = missing[0].size() <= missing[1].size() ? 0 : 1;
  FF_USER_CHECK(false, "corpus directory '{}' lacks {}; expected the files {} (or {})", dir.string(),
                fmt::join(missing[closest], ", "), fmt::join(kLayouts[closest], ", "),
                fmt::join(kLayouts[1 - closest], ", "));
  return {};
}

TextCorpus TextCorpus::load(const fs::path& dir, const TextCorpusOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TextCorpus corpus;
  corpus.paths_ = find_corpus_files(dir);
  CurrentSources current(corpus.paths_, options.verify_content);

  const std::vector<fs::path> cache_paths = io::cache_locations(options.cache_path, dir, kCacheFileName, "corpora");
  auto finish = [&] {
    corpus.info_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(corpus);
  };

  if (options.use_cache) {
    std::vector<std::string> reasons;
    for (const fs::path& path : cache_paths) {
      CacheReadResult r = read_corpus_cache(
          path, [&](const CorpusCacheMetadata& m) { return current.mismatch(m, options.unk_symbol); });
      if (r.status == CacheStatus::loaded) {
        corpus.vocab_ = std::move(r.contents.vocab);
        corpus.ids_ = std::move(r.contents.ids);
        corpus.info_.from_cache = true;
        corpus.info_.cache_path = path;
        return finish();
      }
      if (r.status == CacheStatus::corrupt)
        spdlog::warn("corpus cache '{}' is unusable ({}); rebuilding it from the text", path.string(),
                     r.reason);
      else if (r.status == CacheStatus::stale)
        spdlog::info("corpus cache '{}' is out of date ({}); rebuilding it", path.string(), r.reason);
      const char* kind = r.status == CacheStatus::corrupt ? "corrupt, "
                         : r.status == CacheStatus::stale ? "out of date, "
                                                          : "";
      reasons.push_back(fmt::format("{}: {}{}", path.string(), kind, r.reason));
    }
    corpus.info_.cache_miss_reason = fmt::format("{}", fmt::join(reasons, "; "));
  }

  CorpusCacheContents built;
  built.metadata.unk_symbol = options.unk_symbol;
  for (size_t s = 0; s < kSplitCount; ++s) {
    const fs::path& path = corpus.paths_[s];
    // The recorded size and hash are those of the bytes actually tokenised.
    const FileBytes text = FileBytes::read(path);
    CorpusSource& source = built.metadata.sources[s];
    source.file_name = path.filename().string();
    source.fingerprint = current.at_read_time(s);
    source.fingerprint.size = text.size();
    source.fingerprint.content_hash = io::checksum(text.view());
    if (s == static_cast<size_t>(Split::train)) {
      VocabAndIds train = build_vocab_and_encode(text.view(), path.string(), options.unk_symbol);
      FF_USER_CHECK(!train.ids.empty(), "'{}' is empty; expected the training text", path.string());
      built.vocab = std::move(train.vocab);
      built.ids[s] = std::move(train.ids);
    } else {
      built.ids[s] = encode_text(built.vocab, text.view(), path.string());
    }
  }

  if (options.use_cache) {
    for (const fs::path& path : cache_paths) {
      try {
        std::error_code ec;
        if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
        write_corpus_cache(path, built);
        corpus.info_.cache_written = true;
        corpus.info_.cache_path = path;
        break;
      } catch (const Error& e) {
        spdlog::warn("cannot write the corpus cache: {}", e.what());
      }
    }
  }
  corpus.vocab_ = std::move(built.vocab);
  corpus.ids_ = std::move(built.ids);
  return finish();
}

}  // namespace ff::data
