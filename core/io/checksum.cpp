#include "core/io/checksum.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include "kernels/common.h"

namespace ff::io {

void Checksum::StateDeleter::operator()(XXH3_state_s* state) const { XXH3_freeState(state); }

Checksum::Checksum() : state_(XXH3_createState()) {
  FF_CHECK(state_ != nullptr, "XXH3_createState: out of memory");
  FF_CHECK(XXH3_64bits_reset(state_.get()) == XXH_OK, "XXH3_64bits_reset failed");
}

void Checksum::update(const void* data, size_t n) {
  if (n == 0) return;  // data may be null
  FF_CHECK(XXH3_64bits_update(state_.get(), data, n) == XXH_OK, "XXH3_64bits_update failed");
  bytes_ += n;
}

FileChecksum Checksum::result() const { return {.bytes = bytes_, .hash = XXH3_64bits_digest(state_.get())}; }

uint64_t checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }

FileChecksum checksum_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FF_USER_CHECK(fd >= 0, "cannot open '{}': {}", path.string(), std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  FF_USER_CHECK(::fstat(fd, &info) == 0 && S_ISREG(info.st_mode), "'{}' is not a regular file", path.string());
  Checksum sum;
  std::vector<uint8_t> chunk(size_t{4} << 20);
  for (;;) {
    const ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got < 0 && errno == EINTR) continue;
    FF_USER_CHECK(got >= 0, "cannot read '{}': {}", path.string(), std::strerror(errno));
    if (got == 0) break;
    sum.update(chunk.data(), static_cast<size_t>(got));
  }
  return sum.result();
}

std::string checksum_hex(uint64_t hash) { return fmt::format("{:016x}", hash); }

bool parse_checksum_hex(std::string_view text, uint64_t* hash) {
  if (text.size() != 16) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return std::from_chars(text.data(), text.data() + text.size(), *hash, 16).ec == std::errc();
}

}  // namespace ff::io
