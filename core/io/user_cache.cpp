#include "core/io/user_cache.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <system_error>

#include "core/io/checksum.h"

namespace ff::io {

std::filesystem::path user_cache_file(std::string_view area, const std::filesystem::path& data_dir) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base;
  if (xdg && *xdg) {
    base = xdg;
  } else if (home && *home) {
    base = std::filesystem::path(home) / ".cache";
  } else {
    return {};
  }
  std::error_code ec;
  const std::string key = std::filesystem::weakly_canonical(data_dir, ec).string();
  return base / "fourierformer" / area / fmt::format("{:016x}.bin", checksum(key));
}

std::vector<std::filesystem::path> cache_locations(const std::filesystem::path& explicit_path,
                                                   const std::filesystem::path& data_dir,
                                                   std::string_view file_name, std::string_view area) {
  if (!explicit_path.empty()) return {explicit_path};
  std::vector<std::filesystem::path> out{data_dir / file_name};
  if (std::filesystem::path user = user_cache_file(area, data_dir); !user.empty()) out.push_back(std::move(user));
  return out;
}

}  // namespace ff::io
