#pragma once
// Where the tests find the source tree (configs, scripts) and the build tree (the apps and
// ff_dist_worker). CMake compiles both paths in; FF_TEST_SOURCE_DIR and FF_TEST_BINARY_DIR
// override them at run time, so a build moved to another machine (scripts/device/bundle.sh
// packs one, scripts/device/check.sh runs its tests) finds its files where they now are.
// FF_TEST_MPIEXEC likewise replaces the mpiexec found at configure time.

#include <cstdlib>

namespace ff::testing {

namespace detail {
inline const char* env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}
}  // namespace detail

inline const char* source_dir() { return detail::env_or("FF_TEST_SOURCE_DIR", FF_BUILT_SOURCE_DIR); }
inline const char* binary_dir() { return detail::env_or("FF_TEST_BINARY_DIR", FF_BUILT_BINARY_DIR); }

}  // namespace ff::testing
