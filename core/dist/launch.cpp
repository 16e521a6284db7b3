#include "core/dist/launch.h"

#include <fmt/format.h>
#include <unistd.h>  // environ

#include <cstdlib>
#include <optional>

#include "kernels/common.h"

namespace ff::dist {
namespace {

std::optional<int> whole_number(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  const std::string& text = it->second;
  FF_USER_CHECK(!text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos,
                "environment variable {}='{}': expected a whole number", name, text);
  return std::stoi(text);
}

// The three variables of one launcher, or nothing when its rank variable is unset.
std::optional<LaunchInfo> read(const std::map<std::string, std::string>& env, const std::string& rank_var,
                               const std::string& size_var, const std::string& local_var, const std::string& launcher) {
  const std::optional<int> rank = whole_number(env, rank_var);
  if (!rank) return std::nullopt;
  const std::optional<int> size = whole_number(env, size_var);
  FF_USER_CHECK(size.has_value(), "environment variable {} is set ({}) but {} is not: set both (and {})", rank_var,
                *rank, size_var, local_var);
  FF_USER_CHECK(*size >= 1 && *rank < *size, "environment: {}={} must be below {}={}", rank_var, *rank, size_var,
                *size);
  const int local = whole_number(env, local_var).value_or(0);
  FF_USER_CHECK(local < *size, "environment: {}={} must be below {}={}", local_var, local, size_var, *size);
  return LaunchInfo{.rank = *rank, .world_size = *size, .local_rank = local, .launcher = launcher};
}

}  // namespace

LaunchInfo launch_info(const std::map<std::string, std::string>& env) {
  if (auto info = read(env, "FF_RANK", "FF_WORLD_SIZE", "FF_LOCAL_RANK", "FF_RANK")) return *info;
  if (auto info = read(env, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "mpirun"))
    return *info;
  // srun exports SLURM_STEP_NUM_TASKS to the tasks of a step; a batch script has none.
  if (env.count("SLURM_STEP_NUM_TASKS"))
    if (auto info = read(env, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "srun")) return *info;
  return LaunchInfo{};
}

LaunchInfo launch_info() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    if (name.rfind("FF_", 0) == 0 || name.rfind("OMPI_COMM_WORLD_", 0) == 0 || name.rfind("SLURM_", 0) == 0)
      env[name] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  return launch_info(env);
}

std::string describe(const LaunchInfo& info) {
  if (info.world_size == 1 && info.launcher.empty()) return "one process";
  return fmt::format("rank {} of {} ({})", info.rank, info.world_size, info.launcher);
}

int local_gpu(const LaunchInfo& info, int visible) {
  if (visible == 1) return 0;
  FF_USER_CHECK(info.local_rank < visible,
                "local rank {} has no GPU of its own: this node has {} (start one process per GPU)", info.local_rank,
                visible);
  return info.local_rank;
}

}  // namespace ff::dist
