#pragma once
// What the data-parallel tests share (tests/apps/dist_apps_test.cpp, image_apps_test.cpp): starting
// ff_dist_worker (tests/workers/dist_worker.cpp) under mpirun, and reading its per-step dumps.

#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/command.h"
#include "support/paths.h"

// FF_REQUIRE_MPI(): reports the test skipped (FF_SKIP) where there is no mpiexec to start: a
// build without Open MPI, or a relocated build run on a machine without it (FF_TEST_MPIEXEC
// names another; scripts/device/check.sh runs the suite on a GPU machine that has none).
#ifndef FF_MPIEXEC
#define FF_MPIEXEC ""
#endif
#define FF_REQUIRE_MPI()                                                                \
  do {                                                                                  \
    if (::ff::testing::dist::mpiexec().empty()) {                                       \
      std::cout << "FF_SKIP: no mpiexec (" << ::ff::testing::dist::mpiexec_missing_reason() \
                << ")" << std::endl;                                                    \
      return;                                                                           \
    }                                                                                   \
  } while (0)

namespace ff::testing::dist {

namespace fs = std::filesystem;
using Result = ff::testing::CommandResult;

// float32 reduction order moves the last bits: the tolerance of max_difference.
constexpr double kTolerance = 1e-5;

// FF_TEST_MPIEXEC, else the mpiexec CMake found, if that file exists; "" otherwise.
inline std::string mpiexec() {
  const std::string path = ff::testing::detail::env_or("FF_TEST_MPIEXEC", FF_MPIEXEC);
  return !path.empty() && fs::exists(path) ? path : std::string();
}
inline std::string mpiexec_missing_reason() {
  const std::string path = ff::testing::detail::env_or("FF_TEST_MPIEXEC", FF_MPIEXEC);
  return path.empty() ? std::string("built without Open MPI (libopenmpi-dev)") : path + " does not exist";
}

inline std::string worker() { return std::string(ff::testing::binary_dir()) + "/tests/ff_dist_worker"; }

// ff_dist_worker started from the source tree as np processes by mpirun (np 0: one process,
// no mpirun), dumping into `dump`, with `env` ("VAR=value ") in front. CI has two cores: -np 3
// needs --oversubscribe; one OpenMP thread per rank.
inline Result launch(int np, const fs::path& dump, const std::string& args, double* seconds = nullptr,
                     const std::string& env = "") {
  const std::string prefix =
      env + (np == 0 ? std::string("OMP_NUM_THREADS=1 ")
              : fmt::format("OMP_NUM_THREADS=1 {} --allow-run-as-root --oversubscribe --bind-to none -np {} -x "
                            "OMP_NUM_THREADS -x OMP_WAIT_POLICY ",
                            mpiexec(), np));
  const auto start = std::chrono::steady_clock::now();
  Result r = run_command(fmt::format("cd '{}' && {}{} --dump '{}' -- {}", ff::testing::source_dir(), prefix, worker(),
                                     dump.string(), args));
  if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

inline std::vector<nlohmann::json> records(const fs::path& dump, int rank) {
  std::vector<nlohmann::json> out;
  std::ifstream in(dump / fmt::format("rank-{}.jsonl", rank));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline std::vector<float> params(const fs::path& dump, int rank, int step) {
  const fs::path path = dump / fmt::format("rank-{}-step-{}.f32", rank, step);
  REQUIRE(fs::exists(path));
  std::vector<float> v(fs::file_size(path) / sizeof(float));
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

// The largest |a - b| / (1 + |b|): float32 reduction order moves the last bits.
inline double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (1.0 + std::abs(b[i])));
  return worst;
}

// The values of parameter `name` in a dump (layout from the records' "params").
inline std::vector<float> param(const nlohmann::json& record, const std::vector<float>& all, const std::string& name) {
  size_t offset = 0;
  for (const auto& entry : record.at("params")) {
    const size_t n = entry[1].get<size_t>();
    if (entry[0].get<std::string>() == name)
      return {all.begin() + static_cast<std::ptrdiff_t>(offset), all.begin() + static_cast<std::ptrdiff_t>(offset + n)};
    offset += n;
  }
  FAIL("no parameter " << name);
  return {};
}

}  // namespace ff::testing::dist
