// Atomic file writing: the target holds the old or the new content, never a mix, whatever
// happens to the writer.

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
#include "kernels/common.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh directory under the system temp dir, removed with its content at scope exit.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::random_device device;
    path = fs::temp_directory_path() / fmt::format("ff_test_atomic_{}_{:08x}", ::getpid(), device());
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  int file_count() const {
    int n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(path)) ++n;
    return n;
  }
};

std::string read_text(const fs::path& path) {
  const std::vector<uint8_t> bytes = ff::io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

void write_text(const fs::path& path, const std::string& text) {
  ff::io::write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

}  // namespace

TEST_CASE("write_file_atomic creates and replaces a file without leftovers", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "state.json";
  write_text(file, "first");
  CHECK(read_text(file) == "first");
  write_text(file, "second, longer than the first");
  CHECK(read_text(file) == "second, longer than the first");

  // More than the internal buffer, in pieces of odd sizes.
  std::string big;
  for (int i = 0; i < 200000; ++i) big += static_cast<char>('a' + i % 26);
  ff::io::write_file_atomic(file, [&](std::ostream& out) {
    for (size_t at = 0; at < big.size(); at += 70001) out.write(big.data() + at, std::min<size_t>(70001, big.size() - at));
  });
  CHECK(read_text(file) == big);
  const std::vector<uint8_t> bytes{0, 1, 2, 255};
  ff::io::write_file_atomic(file, bytes);
  CHECK(ff::io::read_file(file) == bytes);
  CHECK(dir.file_count() == 1);
}

TEST_CASE("write_file_atomic keeps the permission bits of the file it replaces", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "private.bin";
  write_text(file, "old");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  write_text(file, "new");
  CHECK(fs::status(file).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("a writer that throws leaves the previous file and no temp file", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "model.safetensors";
  write_text(file, "previous content");
  const auto failing = [](std::ostream& out) {
    out << std::string(100000, 'x');  // part of the new content has reached the temp file
    throw std::runtime_error("simulated failure in the middle");
  };
  CHECK_THROWS_WITH(ff::io::write_file_atomic(file, failing), "simulated failure in the middle");
  CHECK(read_text(file) == "previous content");
  CHECK(dir.file_count() == 1);

  // A stream the writer left failed counts as an error too.
  const auto bad_stream = [](std::ostream& out) {
    out << "half";
    out.setstate(std::ios::badbit);
  };
  CHECK_THROWS_AS(ff::io::write_file_atomic(file, bad_stream), ff::Error);
  CHECK(read_text(file) == "previous content");
  CHECK(dir.file_count() == 1);
}

TEST_CASE("unwritable and unreadable paths give errors naming the path", "[io]") {
  ScratchDir dir;
  const fs::path missing_dir = dir.path / "no_such_dir" / "file.bin";
  CHECK_THROWS_AS(write_text(missing_dir, "x"), ff::UserError);
  CHECK_THROWS_WITH(write_text(missing_dir, "x"), Contains(missing_dir.string()));
  const fs::path missing = dir.path / "missing.bin";
  CHECK_THROWS_AS(ff::io::read_file(missing), ff::UserError);
  CHECK_THROWS_WITH(ff::io::read_file(missing), Contains(missing.string()) && Contains("No such file"));
  CHECK_THROWS_WITH(ff::io::read_file(dir.path), Contains(dir.path.string()));
}

TEST_CASE("a writer killed with SIGKILL mid-write leaves the previous checkpoint loadable", "[io]") {
  ScratchDir dir;
  const fs::path file = dir.path / "checkpoint.safetensors";
  const std::vector<float> old_values{1.0f, 2.0f, 3.0f};
  const auto as_bytes = [](const std::vector<float>& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return std::vector<uint8_t>(p, p + v.size() * sizeof(float));
  };
  ff::io::save_safetensors(file, {{"w", ff::DType::F32, {3}, as_bytes(old_values)}}, {{"step", "100"}});

  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: write half of a new, larger checkpoint, make sure it is in the temp file, tell
    // the parent, and wait to be killed.
    ::close(ready[0]);
    try {
      ff::io::write_file_atomic(file, [&](std::ostream& out) {
        out << std::string(1 << 20, 'n');
        out.flush();
        const char byte = 1;
        if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
        while (true) ::pause();
      });
    } catch (...) {
    }
    ::_exit(2);
  }
  ::close(ready[1]);
  pollfd wait_for{ready[0], POLLIN, 0};
  const bool signalled = ::poll(&wait_for, 1, 20000) == 1;
  char byte = 0;
  const bool got_byte = signalled && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(got_byte);
  CHECK(WIFSIGNALED(status));

  // The killed writer's temp file is left behind, with its partial content; the target is
  // the old checkpoint, complete.
  int temp_files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    if (entry.path() == file) continue;
    ++temp_files;
    CHECK_THAT(entry.path().filename().string(), Contains("checkpoint.safetensors.tmp."));
    CHECK(fs::file_size(entry.path()) == (1u << 20));
  }
  CHECK(temp_files == 1);
  const ff::io::SafetensorsFile loaded = ff::io::load_safetensors(file);
  REQUIRE(loaded.tensors.size() == 1);
  CHECK(loaded.tensors[0].bytes == as_bytes(old_values));
  CHECK(loaded.metadata.at("step") == "100");
}
