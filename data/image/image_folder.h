#pragma once
// An image-classification split in the ImageFolder layout of torchvision (and so of DeiT):
//
//   <root>/<split>/<class>/<image file>      e.g. imagenet/train/n01440764/n01440764_10026.JPEG
//
// Classes are the split's subdirectories sorted by name (bytes, which for UTF-8 is Python's
// sorted()), label = index of the class; within a class, files sorted by name. Samples are
// the regular files with an image extension (torchvision's: .jpg .jpeg .png .ppm .bmp .pgm
// .tif .tiff .webp, any case); entries starting with '.' are ignored. So the indices and labels
// are those of torchvision.datasets.ImageFolder on the same tree. Decoding is not done here:
// read() returns a file's bytes for data/image/jpeg.h.
//
// The listing is cached (file_list_cache.h) and reused while every class directory keeps its
// stamp (mtime, size, inode) and the split still has the same class directories (docs/data.md,
// "The file-list cache").

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/image/file_list_cache.h"

namespace ff::data {

struct ImageFolderOptions {
  // Where the cache lives. Empty: `<root>/<split>/.fourierformer-filelist-v1.bin`, and when
  // that directory is not writable `${XDG_CACHE_HOME:-~/.cache}/fourierformer/image-folders/
  // <hash of the split directory>.bin`.
  std::filesystem::path cache_path;
  // false: list the directories every time, never read or write a cache.
  bool use_cache = true;
  // When not empty, the split's classes must be exactly these, in this order (pass the train
  // split's classes() when opening val, so a label means the same class in both).
  std::vector<std::string> classes;
};

// How an open went, for logs and tests.
struct ImageFolderOpenInfo {
  bool from_cache = false;           // the file list came from the cache
  bool cache_written = false;        // a new cache file was written
  std::filesystem::path cache_path;  // the cache read or written (empty: none)
  std::string cache_miss_reason;     // why no cache was used, when none was
  std::string cache_not_written;     // why no cache was written after listing, when none was
  double seconds = 0;                // wall time of open()
};

class ImageFolder {
 public:
  static constexpr const char* kCacheFileName = ".fourierformer-filelist-v1.bin";

  // ff::UserError naming the path for: a missing root or split directory; a split without
  // class directories (and, when its images lie directly in it, how to sort them into class
  // folders); image files lying beside the class directories; a class directory without
  // images; a directory inside a class directory; classes other than options.classes.
  static ImageFolder open(const std::filesystem::path& root, std::string_view split,
                          const ImageFolderOptions& options = {});

  int64_t size() const { return listing_.size(); }
  const std::vector<std::string>& classes() const { return listing_.classes; }
  int32_t label(int64_t i) const;
  // `<root>/<split>/<class>/<file>`.
  std::filesystem::path path(int64_t i) const;
  // The file's bytes; ff::UserError naming the path when it cannot be read.
  std::vector<uint8_t> read(int64_t i) const;

  const std::filesystem::path& directory() const { return dir_; }  // <root>/<split>
  // Files in class directories that are not images (no image extension), ignored.
  int64_t skipped_files() const { return static_cast<int64_t>(listing_.skipped_files); }
  const ImageFolderOpenInfo& open_info() const { return info_; }

 private:
  std::filesystem::path dir_;
  FolderListing listing_;
  ImageFolderOpenInfo info_;
};

}  // namespace ff::data
