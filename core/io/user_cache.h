#pragma once
// Where a cache goes when the data's own directory is read-only (a shared dataset): the
// per-user cache directory of the XDG base-directory convention.

#include <filesystem>
#include <string_view>
#include <vector>

namespace ff::io {

// `${XDG_CACHE_HOME:-$HOME/.cache}/fourierformer/<area>/<key>.bin`, where key is the XXH3-64
// (16 hex digits) of the canonical path of `data_dir`, so every dataset directory has its own
// file. Empty when neither XDG_CACHE_HOME nor HOME is set. The directories are not created.
std::filesystem::path user_cache_file(std::string_view area, const std::filesystem::path& data_dir);

// Where a cache of `data_dir` is looked for and written, in this order: `explicit_path` alone
// when it is not empty; else `data_dir / file_name`, then user_cache_file(area, data_dir).
std::vector<std::filesystem::path> cache_locations(const std::filesystem::path& explicit_path,
                                                   const std::filesystem::path& data_dir,
                                                   std::string_view file_name, std::string_view area);

}  // namespace ff::io
