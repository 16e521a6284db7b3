#include "core/dist/rendezvous.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kernels/common.h"

namespace ff::dist {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string describe(const Rendezvous& r) {
  return r.kind == Rendezvous::Kind::File ? "file:" + r.path : fmt::format("{}:{}", r.host, r.port);
}

// ---- file ----

void write_root_file(const Rendezvous& r, const std::vector<uint8_t>& value) {
  const fs::path path = r.path;
  FF_USER_CHECK(!fs::exists(path), "FF_RENDEZVOUS={}: the file exists already (a previous job's?); remove it or use a "
                "path unique to this job, e.g. with $SLURM_JOB_ID in it",
                describe(r));
  const fs::path tmp = path.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    FF_USER_CHECK(out.good(), "FF_RENDEZVOUS={}: cannot write '{}'", describe(r), tmp.string());
    out.write(reinterpret_cast<const char*>(value.data()), static_cast<std::streamsize>(value.size()));
    FF_USER_CHECK(out.good(), "FF_RENDEZVOUS={}: cannot write '{}'", describe(r), tmp.string());
  }
  // link() fails when the name exists: the complete file appears at once, and never over another.
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  fs::remove(tmp);
  FF_USER_CHECK(rc == 0, "FF_RENDEZVOUS={}: cannot create it: {}", describe(r), std::strerror(err));
}

std::vector<uint8_t> read_root_file(const Rendezvous& r, size_t bytes, double timeout_s) {
  const auto start = Clock::now();
  while (true) {
    std::ifstream in(r.path, std::ios::binary);
    if (in.good()) {
      std::vector<uint8_t> value(bytes);
      in.read(reinterpret_cast<char*>(value.data()), static_cast<std::streamsize>(bytes));
      FF_CHECK(in.gcount() == static_cast<std::streamsize>(bytes), "FF_RENDEZVOUS={}: {} bytes, expected {}",
               describe(r), in.gcount(), bytes);
      return value;
    }
    FF_CHECK(seconds_since(start) < timeout_s,
             "FF_RENDEZVOUS={}: rank 0 did not write it within {} s (is the path on a file system every node sees?)",
             describe(r), timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---- TCP ----

struct Socket {
  int fd = -1;
  explicit Socket(int f = -1) : fd(f) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

// Waits until fd is readable (events POLLIN) or writable (POLLOUT), at most `seconds`.
bool wait_fd(int fd, short events, double seconds) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  return ::poll(&p, 1, static_cast<int>(std::max(0.0, seconds) * 1000)) > 0;
}

void send_all(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t k = ::send(fd, data, n, MSG_NOSIGNAL);
    FF_CHECK(k > 0, "rendezvous: send failed: {}", std::strerror(errno));
    data += k;
    n -= static_cast<size_t>(k);
  }
}

void serve(const Rendezvous& r, int world_size, const std::vector<uint8_t>& value, double timeout_s) {
  Socket listener(::socket(AF_INET6, SOCK_STREAM, 0));
  int family = AF_INET6;
  if (listener.fd < 0) {  // no IPv6 here
    listener.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    family = AF_INET;
  }
  FF_CHECK(listener.fd >= 0, "rendezvous: socket() failed: {}", std::strerror(errno));
  const int one = 1, zero = 0;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (family == AF_INET6) {
    ::setsockopt(listener.fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 too
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(r.port));
    rc = ::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(r.port));
    rc = ::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  FF_USER_CHECK(rc == 0, "FF_RENDEZVOUS={}: rank 0 cannot listen on port {}: {}", describe(r), r.port,
                std::strerror(errno));
  FF_CHECK(::listen(listener.fd, world_size) == 0, "rendezvous: listen() failed: {}", std::strerror(errno));
  const auto start = Clock::now();
  for (int served = 1; served < world_size; ++served) {
    const double left = timeout_s - seconds_since(start);
    FF_CHECK(left > 0 && wait_fd(listener.fd, POLLIN, left),
             "FF_RENDEZVOUS={}: {} of the {} other processes connected within {} s", describe(r), served - 1,
             world_size - 1, timeout_s);
    Socket peer(::accept(listener.fd, nullptr, nullptr));
    FF_CHECK(peer.fd >= 0, "rendezvous: accept() failed: {}", std::strerror(errno));
    send_all(peer.fd, value.data(), value.size());
  }
}

std::vector<uint8_t> fetch(const Rendezvous& r, size_t bytes, double timeout_s) {
  const auto start = Clock::now();
  std::string last_error = "no attempt";
  while (seconds_since(start) < timeout_s) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(r.port);
    if (const int rc = ::getaddrinfo(r.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      last_error = ::gai_strerror(rc);
    } else {
      for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        Socket s(::socket(a->ai_family, a->ai_socktype, a->ai_protocol));
        if (s.fd < 0 || ::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
          last_error = std::strerror(errno);
          continue;
        }
        std::vector<uint8_t> value(bytes);
        size_t got = 0;
        while (got < bytes && wait_fd(s.fd, POLLIN, timeout_s - seconds_since(start))) {
          const ssize_t k = ::recv(s.fd, value.data() + got, bytes - got, 0);
          if (k <= 0) break;
          got += static_cast<size_t>(k);
        }
        if (got == bytes) {
          ::freeaddrinfo(found);
          return value;
        }
        last_error = fmt::format("received {} of {} bytes", got, bytes);
      }
      ::freeaddrinfo(found);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 0 may not listen yet
  }
  throw Error(fmt::format("FF_RENDEZVOUS={}: no value from rank 0 within {} s ({})", describe(r), timeout_s,
                          last_error));
}

}  // namespace

Rendezvous parse_rendezvous(const std::string& spec) {
  Rendezvous r;
  if (spec.rfind("file:", 0) == 0) {
    r.kind = Rendezvous::Kind::File;
    r.path = spec.substr(5);
    FF_USER_CHECK(!r.path.empty(), "FF_RENDEZVOUS='{}': expected file:PATH or HOST:PORT", spec);
    return r;
  }
  std::string rest = spec.rfind("tcp://", 0) == 0 ? spec.substr(6) : spec;
  const size_t colon = rest.rfind(':');
  FF_USER_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < rest.size(),
                "FF_RENDEZVOUS='{}': expected file:PATH (a file on a shared file system) or HOST:PORT (rank 0's node)",
                spec);
  const std::string port = rest.substr(colon + 1);
  FF_USER_CHECK(port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos,
                "FF_RENDEZVOUS='{}': the port '{}' is not a number in [1, 65535]", spec, port);
  r.kind = Rendezvous::Kind::Tcp;
  r.port = std::stoi(port);
  FF_USER_CHECK(r.port >= 1 && r.port <= 65535, "FF_RENDEZVOUS='{}': the port {} is not in [1, 65535]", spec, r.port);
  r.host = rest.substr(0, colon);
  if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']') r.host = r.host.substr(1, r.host.size() - 2);
  return r;
}

std::vector<uint8_t> exchange_from_root(const Rendezvous& where, int rank, int world_size,
                                        const std::vector<uint8_t>& value, double timeout_s) {
  if (world_size == 1) return value;
  if (where.kind == Rendezvous::Kind::File) {
    if (rank == 0) {
      write_root_file(where, value);
      return value;
    }
    return read_root_file(where, value.size(), timeout_s);
  }
  if (rank == 0) {
    serve(where, world_size, value, timeout_s);
    return value;
  }
  return fetch(where, value.size(), timeout_s);
}

void finish_rendezvous(const Rendezvous& where) {
  if (where.kind != Rendezvous::Kind::File) return;
  std::error_code ec;
  fs::remove(where.path, ec);
}

}  // namespace ff::dist
