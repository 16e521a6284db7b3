// scripts/device/: bundle.sh and check.sh refuse what they cannot use before touching anything,
// and env.sh finds the CUDA libraries where a GPU machine keeps them. The whole dry run (a
// bundle built and checked on a machine without a GPU) takes minutes and a CUDA build, so it is
// not part of the suite: docs/gpu-check.md records it.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "data/temp_dir.h"
#include "support/command.h"
#include "support/paths.h"

namespace fs = std::filesystem;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::testing::CommandResult;
using ff::testing::run_command;

namespace {

std::string script(const std::string& name) { return fmt::format("'{}/scripts/device/{}'", ff::testing::source_dir(), name); }

CommandResult run_in(const fs::path& dir, const std::string& command) {
  return run_command("cd '" + dir.string() + "' && timeout 60 " + command);
}

// write_file, with the folders above it made first.
void write_file(const fs::path& path, const std::string& contents) {
  fs::create_directories(path.parent_path());
  ff::data::testing::write_file(path, contents);
}

}  // namespace

TEST_CASE("device scripts: bundle.sh refuses an OUT_DIR it did not make and leaves it as it was", "[apps][scripts][device]") {
  TempDir root;
  write_file(root / "mine" / "notes.txt", "keep me\n");
  const CommandResult r = run_in(root.path(), script("bundle.sh") + " --no-build --build-dir nowhere mine");
  INFO(r.output);
  CHECK(r.code == 2);
  CHECK(r.output ==
        "bundle.sh: OUT_DIR 'mine' exists and is not a bundle this script made (no manifest.json): choose another "
        "(see --help)\n");
  CHECK(read_file(root / "mine" / "notes.txt") == "keep me\n");

  const CommandResult nobuild = run_in(root.path(), script("bundle.sh") + " --no-build --build-dir nowhere fresh");
  CHECK(nobuild.code == 2);
  CHECK(nobuild.output == "bundle.sh: --no-build: 'nowhere' holds no build (see --help)\n");
  const CommandResult archs = run_in(root.path(), script("bundle.sh") + " --cuda-archs sm_90 fresh");
  CHECK(archs.code == 2);
  CHECK(archs.output.find("--cuda-archs must be CMake CUDA architectures such as 90-real") != std::string::npos);
  CHECK(!fs::exists(root / "fresh"));
}

TEST_CASE("device scripts: check.sh refuses a folder that is no bundle, an unknown stage and a used OUT_DIR",
          "[apps][scripts][device]") {
  TempDir root;
  fs::create_directories(root / "empty");
  const CommandResult r = run_in(root.path(), script("check.sh") + " --bundle empty out");
  CHECK(r.code == 2);
  CHECK(r.output ==
        "check.sh: --bundle 'empty' is not a bundle (no manifest.json and payload.tar.xz): make one with "
        "scripts/device/bundle.sh (see --help)\n");
  CHECK(run_in(root.path(), script("check.sh") + " out").output ==
        "check.sh: no bundle: pass --bundle DIR (a folder scripts/device/bundle.sh made) (see --help)\n");

  const CommandResult stage = run_in(root.path(), script("check.sh") + " --stages gpu,bnech --bundle empty out");
  CHECK(stage.code == 2);
  CHECK(stage.output ==
        "check.sh: --stages: unknown stage 'bnech' (expected some of gpu,tests,sanitizer,parity,bench,peers) (see --help)\n");

  write_file(root / "bundle" / "manifest.json", "{}\n");
  write_file(root / "bundle" / "payload.tar.xz", "");
  write_file(root / "used" / "summary.txt", "an earlier check\n");
  const CommandResult used = run_in(root.path(), script("check.sh") + " --bundle bundle used");
  CHECK(used.code == 2);
  CHECK(used.output == "check.sh: OUT_DIR 'used' exists and is not empty: choose another (see --help)\n");
  CHECK(read_file(root / "used" / "summary.txt") == "an earlier check\n");
  CHECK(!fs::exists(root / "bundle" / "env.sh"));  // nothing unpacked
  CHECK(!fs::exists(root / "out"));
}

TEST_CASE("device scripts: env.sh takes each CUDA library from the first folder that has it and names the missing",
          "[apps][scripts][device]") {
  TempDir root;
  // Two wheel-like folders: cuBLAS and cuBLASLt in the first, cuBLAS again and cuDNN in the
  // second; no NCCL anywhere. FF_CUDA_LIB_DIRS is searched first, so the toolkit's copies under
  // /usr/local/cuda (present on this machine) are not reached for these three.
  for (const char* lib : {"libcublas.so.13", "libcublasLt.so.13"}) write_file(root / "a" / "lib" / lib, "");
  for (const char* lib : {"libcublas.so.13", "libcudnn.so.9"}) write_file(root / "b" / "lib" / lib, "");
  fs::create_directories(root / "bundle");
  fs::copy_file(fs::path(ff::testing::source_dir()) / "scripts/device/env.sh", root / "bundle" / "env.sh");
  const std::string a = (root / "a" / "lib").string(), b = (root / "b" / "lib").string();
  const CommandResult r = run_command(fmt::format(
      "cd '{}' && FF_CUDA_LIB_DIRS='{}:{}' PATH=/usr/bin:/bin LD_LIBRARY_PATH=/old bash -c "
      "'source bundle/env.sh && echo \"$FF_CUDA_LIBS\" && echo \"[$FF_CUDA_LIBS_MISSING]\" && echo \"$LD_LIBRARY_PATH\" "
      "&& echo \"$FF_TEST_SOURCE_DIR\"'",
      root.path().string(), a, b));
  INFO(r.output);
  REQUIRE(r.code == 0);
  const std::string bundle = fs::canonical(root / "bundle").string();
  const bool toolkit_nccl = fs::exists("/usr/local/cuda/lib64/libnccl.so.2") || fs::exists("/usr/local/cuda/lib/libnccl.so.2");
  std::string nccl_dir;
  if (toolkit_nccl) nccl_dir = fs::exists("/usr/local/cuda/lib64/libnccl.so.2") ? "/usr/local/cuda/lib64" : "/usr/local/cuda/lib";
  const std::string libs = fmt::format("libcublas.so.13={0}/libcublas.so.13 libcublasLt.so.13={0}/libcublasLt.so.13 "
                                       "libcudnn.so.9={1}/libcudnn.so.9",
                                       a, b) +
                           (toolkit_nccl ? fmt::format(" libnccl.so.2={}/libnccl.so.2", nccl_dir) : "");
  const std::string missing = toolkit_nccl ? "[]" : "[libnccl.so.2]";
  const std::string path = fmt::format("{}/lib:{}:{}", bundle, a, b) + (toolkit_nccl ? ":" + nccl_dir : "") + ":/old";
  CHECK(r.output == libs + "\n" + missing + "\n" + path + "\n" + bundle + "/src\n");
}
