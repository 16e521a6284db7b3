#pragma once
// Small POSIX file helpers for the text pipeline, with errors that name the path.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace ff::data {

// A whole file in memory (no zero-fill before the read).
class FileBytes {
 public:
  std::string_view view() const { return {data_.get(), size_}; }
  size_t size() const { return size_; }

  // ff::UserError naming the path when it is missing, not a regular file, unreadable, or
  // changes size while being read.
  static FileBytes read(const std::filesystem::path& path);

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

// What identifies a file's contents for the cache: size, modification time and a hash of the
// bytes.
struct FileFingerprint {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t content_hash = 0;
  friend bool operator==(const FileFingerprint&, const FileFingerprint&) = default;
};

// Size and mtime from stat(); content_hash (io::checksum of the bytes) left 0. ff::UserError
// when the file is missing.
FileFingerprint stat_fingerprint(const std::filesystem::path& path);

// A file written under a temporary name in the destination's directory, fsynced and renamed
// over the destination on commit(); removed if destroyed before commit().
class AtomicFileWriter {
 public:
  // ff::Error naming the path when the temporary file cannot be created.
  explicit AtomicFileWriter(std::filesystem::path destination);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(const void* data, size_t n);
  void pwrite_at(uint64_t offset, const void* data, size_t n);
  void commit();

 private:
  std::filesystem::path destination_, temp_;
  int fd_ = -1;
};

}  // namespace ff::data
