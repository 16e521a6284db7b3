#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <streambuf>
#include <string>

#include "kernels/common.h"

namespace ff::io {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// An ostream buffer over a file descriptor that remembers the first write error (errno).
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }

  int error() const { return error_; }
  FileChecksum checksum() const { return checksum_.result(); }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

  std::streamsize xsputn(const char* data, std::streamsize n) override {
    // Large writes skip the buffer.
    if (n < static_cast<std::streamsize>(buffer_.size())) return std::streambuf::xsputn(data, n);
    if (!drain() || !write_all(data, static_cast<size_t>(n))) return 0;
    return n;
  }

  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const size_t pending = static_cast<size_t>(pptr() - pbase());
    if (pending > 0 && !write_all(pbase(), pending)) return false;
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return true;
  }

  bool write_all(const char* data, size_t n) {
    if (error_ != 0) return false;
    while (n > 0) {
      const ssize_t written = ::write(fd_, data, n);
      if (written < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      checksum_.update(data, static_cast<size_t>(written));
      data += written;
      n -= static_cast<size_t>(written);
    }
    return true;
  }

  int fd_;
  int error_ = 0;
  Checksum checksum_;
  std::array<char, 1 << 16> buffer_;
};

std::string random_suffix() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> dist;
  return fmt::format("{:08x}", dist(device));
}

// Makes a finished rename durable: the directory entry itself must reach the disk.
void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open directory {} to fsync it: {}", dir.string(), errno_text(errno)));
  const int status = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync directories (EINVAL); the rename has happened anyway.
  if (status != 0 && err != EINVAL)
    throw Error(fmt::format("fsync of directory {} failed: {}", dir.string(), errno_text(err)));
}

}  // namespace

FileChecksum write_file_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& writer) {
  FF_USER_CHECK(path.has_filename(), "cannot write '{}': the path names a directory, expected a file name",
                path.string());
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path temp =
      dir / fmt::format("{}.tmp.{}.{}", path.filename().string(), ::getpid(), random_suffix());

  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FF_USER_CHECK(fd >= 0, "cannot write '{}': creating the temporary file {} failed: {}", path.string(),
                temp.string(), errno_text(errno));

  bool fd_open = true;
  FileChecksum written;
  try {
    struct stat existing;
    if (::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
      ::fchmod(fd, existing.st_mode & 07777);  // best effort: keep the old file's permissions
    }
    FdStreamBuf buffer(fd);
    std::ostream out(&buffer);
    writer(out);
    out.flush();
    if (!out || buffer.error() != 0) {
      throw Error(fmt::format("writing '{}' failed: {}", path.string(),
                              buffer.error() != 0 ? errno_text(buffer.error()) : "the writer left the stream in a failed state"));
    }
    written = buffer.checksum();
    if (::fsync(fd) != 0) throw Error(fmt::format("fsync of '{}' failed: {}", temp.string(), errno_text(errno)));
    fd_open = false;
    if (::close(fd) != 0) throw Error(fmt::format("closing '{}' failed: {}", temp.string(), errno_text(errno)));
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      throw Error(fmt::format("renaming '{}' to '{}' failed: {}", temp.string(), path.string(), errno_text(errno)));
    }
  } catch (...) {
    if (fd_open) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  fsync_directory(dir);
  return written;
}

FileChecksum write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  return write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FF_USER_CHECK(fd >= 0, "cannot open '{}': {}", path.string(), errno_text(errno));
  std::vector<uint8_t> bytes;
  struct stat info;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  std::array<uint8_t, 1 << 16> chunk;
  while (true) {
    const ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(fd);
      throw UserError(fmt::format("cannot read '{}': {}", path.string(), errno_text(err)));
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  ::close(fd);
  return bytes;
}

}  // namespace ff::io
