#include "data/text/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "kernels/common.h"

namespace ff::data {

namespace {
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Fd open_regular_for_read(const std::filesystem::path& path, struct stat& st) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  FF_USER_CHECK(f.fd >= 0, "cannot open '{}' for reading: {}", path.string(), std::strerror(errno));
  FF_USER_CHECK(::fstat(f.fd, &st) == 0, "cannot stat '{}': {}", path.string(), std::strerror(errno));
  FF_USER_CHECK(S_ISREG(st.st_mode), "'{}' is not a regular file; expected a text file", path.string());
  return f;
}
}  // namespace

FileBytes FileBytes::read(const std::filesystem::path& path) {
  struct stat st {};
  Fd f = open_regular_for_read(path, st);
  FileBytes out;
  out.size_ = static_cast<size_t>(st.st_size);
  out.data_ = std::make_unique_for_overwrite<char[]>(out.size_ + 1);
  size_t done = 0;
  while (done < out.size_) {
    const ssize_t n = ::read(f.fd, out.data_.get() + done, std::min<size_t>(out.size_ - done, 1 << 30));
    if (n < 0 && errno == EINTR) continue;
    FF_USER_CHECK(n >= 0, "error reading '{}' at byte {}: {}", path.string(), done, std::strerror(errno));
    FF_USER_CHECK(n > 0, "'{}' was truncated while being read: {} of {} bytes", path.string(), done,
                  out.size_);
    done += static_cast<size_t>(n);
  }
  char extra;
  FF_USER_CHECK(::read(f.fd, &extra, 1) == 0, "'{}' grew while being read (more than {} bytes)",
                path.string(), out.size_);
  return out;
}

FileFingerprint stat_fingerprint(const std::filesystem::path& path) {
  struct stat st {};
  FF_USER_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat '{}': {}", path.string(), std::strerror(errno));
  FileFingerprint fp;
  fp.size = static_cast<uint64_t>(st.st_size);
  fp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return fp;
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path destination) : destination_(std::move(destination)) {
  std::random_device rd;
  temp_ = destination_;
  temp_ += fmt::format(".tmp.{}.{:08x}", ::getpid(), rd());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FF_CHECK(fd_ >= 0, "cannot create '{}': {}", temp_.string(), std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, 1 << 30));
    if (w < 0 && errno == EINTR) continue;
    FF_CHECK(w > 0, "error writing '{}': {}", temp_.string(), std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFileWriter::pwrite_at(uint64_t offset, const void* data, size_t n) {
  FF_CHECK(::pwrite(fd_, data, n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n),
           "error writing '{}' at byte {}: {}", temp_.string(), offset, std::strerror(errno));
}

void AtomicFileWriter::commit() {
  FF_CHECK(::fsync(fd_) == 0, "fsync of '{}' failed: {}", temp_.string(), std::strerror(errno));
  FF_CHECK(::close(fd_) == 0, "close of '{}' failed: {}", temp_.string(), std::strerror(errno));
  fd_ = -1;
  if (::rename(temp_.c_str(), destination_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    FF_CHECK(false, "cannot rename '{}' to '{}': {}", temp_.string(), destination_.string(),
             std::strerror(err));
  }
  // Make the rename itself durable.
  const std::filesystem::path dir = destination_.parent_path().empty() ? "." : destination_.parent_path();
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd >= 0) ::fsync(d.fd);
}

}  // namespace ff::data
