#pragma once
// The listing of an image folder split (classes and file names) and its binary cache, so that
// a start-up does not walk ImageNet's 1.28M files every time. Layout (little-endian):
//
//   header (32 bytes): magic "FFIMGLST", u32 version, u32 0, u64 payload bytes,
//                      u64 payload checksum (XXH3-64, core/io/checksum.h)
//   payload:           u64 classes; per class: name (u32 length + bytes), its directory's
//                      stamp (i64 mtime_ns, u64 size, u64 inode), u64 files;
//                      u64 skipped files; u64 name bytes, the names; u64 name offsets[files + 1]
//
// A file with another magic or version, a size that disagrees with its header, a checksum
// mismatch or an inconsistent payload is reported as unusable and never used.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ff::data {

// 1: the first format.
inline constexpr uint32_t kFileListCacheVersion = 1;

// What changes when a directory's entries change: adding, removing or renaming an entry sets
// its mtime (and on most file systems its size); a directory replaced by another has another
// inode.
struct DirStamp {
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  uint64_t inode = 0;
  friend bool operator==(const DirStamp&, const DirStamp&) = default;
};

// Files of class c are [class_begin[c], class_begin[c + 1]); file i is
// names[name_begin[i], name_begin[i + 1]), a name inside its class directory.
struct FolderListing {
  std::vector<std::string> classes;   // sorted by name (bytes)
  std::vector<DirStamp> class_stamps; // (classes): each class directory when it was listed
  std::vector<uint64_t> class_begin;  // (classes + 1)
  std::string names;                  // every file name, concatenated, sorted within a class
  std::vector<uint64_t> name_begin;   // (files + 1)
  uint64_t skipped_files = 0;         // entries of class directories that are not images

  int64_t size() const { return name_begin.empty() ? 0 : static_cast<int64_t>(name_begin.size() - 1); }
  std::string_view name(int64_t i) const {
    return std::string_view(names).substr(name_begin[i], name_begin[i + 1] - name_begin[i]);
  }
};

struct FileListCacheRead {
  bool loaded = false;
  bool missing = false;  // no file (not worth a warning)
  std::string reason;    // why not loaded
  FolderListing listing;
};

FileListCacheRead read_file_list_cache(const std::filesystem::path& path);

// Atomic (core/io/atomic_file.h). ff::Error / ff::UserError when it cannot be written.
void write_file_list_cache(const std::filesystem::path& path, const FolderListing& listing);

}  // namespace ff::data
