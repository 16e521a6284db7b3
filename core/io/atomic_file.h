#pragma once
// Whole-file writes that either happen completely or not at all, and whole-file reads.
//
// write_file_atomic writes to `<dir>/<name>.tmp.<pid>.<random>`, flushes, fsyncs the file,
// renames it over `<dir>/<name>` and fsyncs the directory. A reader sees the old file or the
// new one, never a mix, also after a crash or a power cut. If the writer callback or any
// system call fails, the temp file is removed and the error is rethrown: the previous file
// is untouched. A process killed mid-write (SIGKILL) leaves its temp file behind (nothing
// can run to remove it) and the previous file intact.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <vector>

#include "core/io/checksum.h"

namespace ff::io {

// writer streams the content into the given ostream; it may throw (the write is abandoned).
// A stream error (disk full, I/O error) throws ff::Error naming the path and the errno
// message; a directory that cannot be written throws ff::UserError. If path exists, the new
// file keeps its permission bits. Returns the size and checksum of the bytes written, computed
// on the way out, so recording them (a checkpoint's manifest) costs no second read.
FileChecksum write_file_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& writer);

// Same with the content in memory.
FileChecksum write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

// The whole content of a file. ff::UserError naming the path when it cannot be opened or read.
std::vector<uint8_t> read_file(const std::filesystem::path& path);

}  // namespace ff::io
