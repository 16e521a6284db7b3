#include "data/image/image_folder.h"

#include <dirent.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "core/io/atomic_file.h"
#include "core/io/user_cache.h"
#include "kernels/common.h"

namespace ff::data {

namespace fs = std::filesystem;

namespace {

// torchvision's IMG_EXTENSIONS, compared case-insensitively as torchvision does.
constexpr std::array<std::string_view, 9> kImageExtensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                              ".pgm", ".tif",  ".tiff", ".webp"};

bool has_image_extension(std::string_view name) {
  return std::any_of(kImageExtensions.begin(), kImageExtensions.end(), [&](std::string_view ext) {
    return name.size() > ext.size() &&
           std::equal(ext.begin(), ext.end(), name.end() - static_cast<std::ptrdiff_t>(ext.size()),
                      [](char e, char c) { return e == std::tolower(static_cast<unsigned char>(c)); });
  });
}

// A directory whose mtime is this recent may still change within the same timestamp tick
// (coarse kernel clocks, 1-2 s on some network and FAT file systems): its listing is used but
// not cached.
constexpr int64_t kSettleNs = 2'000'000'000;

int64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

DirStamp stamp_of(const fs::path& dir) {
  struct stat st {};
  FF_USER_CHECK(::stat(dir.c_str(), &st) == 0, "cannot stat '{}': {}", dir.string(), std::strerror(errno));
  return {.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
          .size = static_cast<uint64_t>(st.st_size),
          .inode = static_cast<uint64_t>(st.st_ino)};
}

enum class EntryKind { file, directory, other };

// Calls f(name, kind) for every entry of `dir` not starting with '.', symbolic links followed.
// readdir's entry types avoid a stat per file where the file system reports them (ext4, XFS,
// btrfs, NFS); ImageNet's train split is 1.28M entries.
template <class F>
void for_each_entry(const fs::path& dir, F&& f) {
  DIR* d = ::opendir(dir.c_str());
  FF_USER_CHECK(d != nullptr, "cannot list '{}': {}", dir.string(), std::strerror(errno));
  struct Closer {
    DIR* d;
    ~Closer() { ::closedir(d); }
  } closer{d};
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) {
      FF_USER_CHECK(errno == 0, "cannot list '{}': {}", dir.string(), std::strerror(errno));
      return;
    }
    if (e->d_name[0] == '.') continue;
    EntryKind kind = e->d_type == DT_REG ? EntryKind::file : e->d_type == DT_DIR ? EntryKind::directory : EntryKind::other;
    if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, 0) == 0)
        kind = S_ISREG(st.st_mode) ? EntryKind::file : S_ISDIR(st.st_mode) ? EntryKind::directory : EntryKind::other;
    }
    f(std::string_view(e->d_name), kind);
  }
}

// The split directory itself: its class directories (sorted) with their stamps, and any
// images lying beside them.
struct SplitScan {
  std::vector<std::string> classes;
  std::vector<DirStamp> stamps;
  std::vector<std::string> loose_images;
};

SplitScan scan_split(const fs::path& dir) {
  SplitScan s;
  for_each_entry(dir, [&](std::string_view name, EntryKind kind) {
    if (kind == EntryKind::directory) s.classes.emplace_back(name);
    if (kind == EntryKind::file && has_image_extension(name)) s.loose_images.emplace_back(name);
  });
  std::sort(s.classes.begin(), s.classes.end());
  std::sort(s.loose_images.begin(), s.loose_images.end());
  for (const std::string& c : s.classes) s.stamps.push_back(stamp_of(dir / c));
  return s;
}

void check_split(const fs::path& dir, const SplitScan& s, const std::vector<std::string>& expected) {
  const std::string layout = fmt::format("{}/<class>/<image files>", dir.string());
  if (s.classes.empty()) {
    FF_USER_CHECK(s.loose_images.empty(),
                  "'{}' holds {} image files (e.g. '{}') but no class directories; expected {}: sort the images "
                  "into one directory per class (ImageNet's validation set: docs/imagenet.md)",
                  dir.string(), s.loose_images.size(), s.loose_images.front(), layout);
    throw UserError(fmt::format("'{}' has no class directories; expected {}", dir.string(), layout));
  }
  FF_USER_CHECK(s.loose_images.empty(),
                "'{}' holds {} image file(s) beside its class directories (e.g. '{}'); expected every image inside {}",
                dir.string(), s.loose_images.size(), s.loose_images.front(), layout);
  if (expected.empty() || expected == s.classes) return;
  for (const std::string& c : expected)
    FF_USER_CHECK(std::binary_search(s.classes.begin(), s.classes.end(), c),
                  "'{}' has no class directory '{}'; expected the {} classes of the reference split", dir.string(), c,
                  expected.size());
  for (const std::string& c : s.classes)
    FF_USER_CHECK(std::find(expected.begin(), expected.end(), c) != expected.end(),
                  "'{}' has the class directory '{}', which the reference split's {} classes lack", dir.string(), c,
                  expected.size());
  throw UserError(fmt::format("'{}' has the reference split's classes in another order; expected them sorted by name",
                              dir.string()));
}

// Appends one class directory's image files, sorted, to the listing.
void list_class(const fs::path& class_dir, FolderListing& l) {
  std::vector<std::string> files;
  for_each_entry(class_dir, [&](std::string_view name, EntryKind kind) {
    FF_USER_CHECK(kind != EntryKind::directory,
                  "'{}' is a directory inside the class directory '{}'; expected image files only (move its "
                  "images into the class directory)",
                  (class_dir / name).string(), class_dir.string());
    if (kind == EntryKind::file && has_image_extension(name)) {
      files.emplace_back(name);
    } else {
      ++l.skipped_files;
    }
  });
  FF_USER_CHECK(!files.empty(), "class directory '{}' has no image files; expected files ending in {}",
                class_dir.string(), fmt::join(kImageExtensions, ", "));
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    l.names += f;
    l.name_begin.push_back(l.names.size());
  }
  l.class_begin.push_back(l.name_begin.size() - 1);
}

// Empty when the cached listing still describes the split, else why not.
std::string mismatch(const FolderListing& cached, const SplitScan& now) {
  for (const std::string& c : now.classes)
    if (!std::binary_search(cached.classes.begin(), cached.classes.end(), c))
      return fmt::format("class directory '{}' is new", c);
  for (const std::string& c : cached.classes)
    if (!std::binary_search(now.classes.begin(), now.classes.end(), c))
      return fmt::format("class directory '{}' is gone", c);
  for (size_t c = 0; c < now.classes.size(); ++c)
    if (cached.class_stamps[c] != now.stamps[c])
      return fmt::format("class directory '{}' changed (an entry was added, removed or renamed)", now.classes[c]);
  return {};
}

}  // namespace

ImageFolder ImageFolder::open(const fs::path& root, std::string_view split, const ImageFolderOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  FF_USER_CHECK(fs::is_directory(root, ec), "image folder '{}' does not exist or is not a directory", root.string());
  ImageFolder folder;
  folder.dir_ = root / split;
  const fs::path& dir = folder.dir_;
  FF_USER_CHECK(fs::is_directory(dir, ec), "image folder '{}' has no split directory '{}'; expected {}/<class>/<image files>",
                root.string(), split, dir.string());
  const SplitScan scan = scan_split(dir);
  check_split(dir, scan, options.classes);
  ImageFolderOpenInfo& info = folder.info_;
  auto finish = [&] {
    info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(folder);
  };

  const std::vector<fs::path> cache_paths =
      options.use_cache ? io::cache_locations(options.cache_path, dir, kCacheFileName, "image-folders")
                        : std::vector<fs::path>{};
  std::vector<std::string> misses;
  for (const fs::path& path : cache_paths) {
    FileListCacheRead r = read_file_list_cache(path);
    std::string why = r.reason;
    if (r.loaded) {
      why = mismatch(r.listing, scan);
      if (why.empty()) {
        folder.listing_ = std::move(r.listing);
        info.from_cache = true;
        info.cache_path = path;
        return finish();
      }
      spdlog::info("file-list cache '{}' is out of date ({}); listing '{}' again", path.string(), why, dir.string());
    } else if (!r.missing) {
      spdlog::warn("file-list cache '{}' is unusable ({}); listing '{}' again", path.string(), why, dir.string());
    }
    misses.push_back(fmt::format("{}: {}", path.string(), why));
  }
  info.cache_miss_reason = options.use_cache ? fmt::format("{}", fmt::join(misses, "; ")) : "the cache is off";

  const int64_t listing_start = now_ns();
  FolderListing& l = folder.listing_;
  l.classes = scan.classes;
  l.class_stamps = scan.stamps;
  l.class_begin.assign(1, 0);
  l.name_begin.assign(1, 0);
  for (size_t c = 0; c < l.classes.size(); ++c) {
    const fs::path class_dir = dir / l.classes[c];
    list_class(class_dir, l);
    if (!info.cache_not_written.empty()) continue;
    if (stamp_of(class_dir) != scan.stamps[c]) {
      info.cache_not_written = fmt::format("'{}' changed while it was being listed", class_dir.string());
    } else if (scan.stamps[c].mtime_ns > listing_start - kSettleNs) {
      info.cache_not_written =
          fmt::format("'{}' changed less than {} s ago; the listing is cached once the folder has settled",
                      class_dir.string(), kSettleNs / 1'000'000'000);
    }
  }
  if (cache_paths.empty() || !info.cache_not_written.empty()) return finish();

  std::vector<std::string> failures;
  for (const fs::path& path : cache_paths) {
    try {
      if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
      write_file_list_cache(path, l);
      info.cache_written = true;
      info.cache_path = path;
      return finish();
    } catch (const Error& e) {
      failures.push_back(e.what());
    }
  }
  info.cache_not_written = fmt::format("{}", fmt::join(failures, "; "));
  spdlog::warn("cannot write the file-list cache of '{}' ({}); the next start lists it again", dir.string(),
               info.cache_not_written);
  return finish();
}

int32_t ImageFolder::label(int64_t i) const {
  FF_CHECK(i >= 0 && i < size(), "sample {} of {}", i, size());
  const auto& begin = listing_.class_begin;
  return static_cast<int32_t>(std::upper_bound(begin.begin(), begin.end(), static_cast<uint64_t>(i)) - begin.begin() - 1);
}

fs::path ImageFolder::path(int64_t i) const {
  const int32_t c = label(i);
  return dir_ / listing_.classes[c] / listing_.name(i);
}

std::vector<uint8_t> ImageFolder::read(int64_t i) const { return io::read_file(path(i)); }

}  // namespace ff::data
