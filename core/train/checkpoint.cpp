#include "core/train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "core/io/atomic_file.h"
#include "core/ops/view.h"
#include "kernels/common.h"

namespace ff::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLatest = "latest";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kTrainerFile = "trainer.json";
constexpr const char* kConfigFile = "config.yaml";
constexpr const char* kManifestFile = "checksums.json";

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  FF_CHECK(fd >= 0, "cannot open directory {}: {}", dir.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  FF_CHECK(rc == 0, "fsync of directory {} failed: {}", dir.string(), std::strerror(err));
}

// Host copies of the tensors (contiguous) and views on their bytes for the safetensors writer.
struct HostTensors {
  std::vector<Tensor> host;
  std::vector<io::TensorView> views;
};

HostTensors host_views(const NamedTensors& tensors) {
  HostTensors out;
  out.host.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    FF_CHECK(t.defined(), "checkpoint tensor '{}' is undefined", name);
    out.host.push_back(contiguous(to_device(t.detach(), Device::cpu())));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& h = out.host[i];
    const size_t nbytes = static_cast<size_t>(h.numel()) * dtype_size(h.dtype());
    out.views.push_back({.name = tensors[i].first,
                         .dtype = h.dtype(),
                         .shape = std::span<const int64_t>(h.shape()),
                         .bytes = std::span<const uint8_t>(static_cast<const uint8_t*>(h.raw_data()), nbytes)});
  }
  return out;
}

io::FileChecksum write_text(const fs::path& path, const std::string& text) {
  return io::write_file_atomic(path,
                               std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string read_text(const fs::path& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

// checksums.json: {"algorithm": "xxh3_64", "files": {"<name>": {"bytes": N, "hash": "<16 hex digits>"}}}

using Manifest = std::map<std::string, io::FileChecksum>;

std::string manifest_json(const Manifest& files) {
  nlohmann::ordered_json j;
  j["algorithm"] = io::kChecksumAlgorithm;
  j["files"] = nlohmann::ordered_json::object();
  for (const auto& [name, sum] : files) j["files"][name] = {{"bytes", sum.bytes}, {"hash", io::checksum_hex(sum.hash)}};
  return j.dump(2) + "\n";
}

Manifest read_manifest(const fs::path& dir) {
  const fs::path path = dir / kManifestFile;
  FF_USER_CHECK(fs::exists(path),
                "checkpoint '{}' has no {}, so its files cannot be verified: it is incomplete or was written before "
                "checkpoints carried checksums; use another checkpoint",
                dir.string(), kManifestFile);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: invalid JSON ({}): the checkpoint is corrupt; use another checkpoint",
                                path.string(), e.what()));
  }
  const char* expected =
      R"(expected {"algorithm": "xxh3_64", "files": {"<name>": {"bytes": N, "hash": "<16 hex digits>"}}})";
  FF_USER_CHECK(j.is_object() && j.contains("algorithm") && j["algorithm"].is_string() && j.contains("files") &&
                    j["files"].is_object(),
                "{}: {}", path.string(), expected);
  const std::string algorithm = j["algorithm"].get<std::string>();
  FF_USER_CHECK(algorithm == io::kChecksumAlgorithm, "{}: the checksums are '{}', this build verifies '{}'",
                path.string(), algorithm, io::kChecksumAlgorithm);
  Manifest files;
  for (const auto& [name, entry] : j["files"].items()) {
    uint64_t hash = 0;
    const bool ok = entry.is_object() && entry.contains("bytes") && entry["bytes"].is_number_unsigned() &&
                    entry.contains("hash") && entry["hash"].is_string() &&
                    io::parse_checksum_hex(entry["hash"].get<std::string>(), &hash);
    FF_USER_CHECK(ok, "{}: the entry of '{}' is {}, {}", path.string(), name, entry.dump(), expected);
    // Only files of this directory: a listed "../x" must not make us read elsewhere.
    FF_USER_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos,
                  "{}: '{}' is not a file name of the checkpoint directory", path.string(), name);
    files[name] = {.bytes = entry["bytes"].get<uint64_t>(), .hash = hash};
  }
  for (const char* name : {kModelFile, kOptimizerFile, kTrainerFile, kConfigFile}) {
    const bool required = name == kModelFile || name == kTrainerFile;
    FF_USER_CHECK(files.contains(name) || (!required && !fs::exists(dir / name)),
                  "{} does not list {}: the checkpoint is corrupt or was modified; use another checkpoint",
                  path.string(), name);
  }
  return files;
}

void check_size(const fs::path& path, uint64_t expected, uint64_t actual) {
  FF_USER_CHECK(actual == expected,
                "{}: {} bytes, {} lists {}: the file is truncated, corrupt or was modified since it was saved; use "
                "another checkpoint",
                path.string(), actual, kManifestFile, expected);
}

void check_checksum(const fs::path& path, const io::FileChecksum& expected, const io::FileChecksum& actual) {
  check_size(path, expected.bytes, actual.bytes);
  FF_USER_CHECK(actual.hash == expected.hash,
                "{}: checksum mismatch (expected {} {}, got {}): the file is corrupt or was modified since it was "
                "saved; use another checkpoint",
                path.string(), io::kChecksumAlgorithm, io::checksum_hex(expected.hash), io::checksum_hex(actual.hash));
}

// A listed file with its listed size: a cheap check of every file before any is read.
void check_present(const fs::path& path, const io::FileChecksum& expected) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  FF_USER_CHECK(!ec, "checkpoint '{}' is incomplete: {} is missing ({} lists it); use another checkpoint",
                path.parent_path().string(), path.filename().string(), kManifestFile);
  check_size(path, expected.bytes, size);
}

// Parsed and hashed in one pass. When parsing fails, a damaged file is reported as damaged (its
// checksum), not as malformed: that is the cause, and the message says what to do.
io::SafetensorsFile read_verified_safetensors(const fs::path& path, const io::FileChecksum& expected) {
  io::Checksum sum;
  io::SafetensorsFile file;
  try {
    file = io::load_safetensors(path, &sum);
  } catch (const UserError&) {
    check_checksum(path, expected, io::checksum_file(path));
    throw;
  }
  check_checksum(path, expected, sum.result());
  return file;
}

// Puts `from` at `to`; an existing `to` ends up at `from` (to be removed by the caller).
void move_into_place(const fs::path& from, const fs::path& to) {
  if (!fs::exists(to)) {
    FF_CHECK(::rename(from.c_str(), to.c_str()) == 0, "cannot rename {} to {}: {}", from.string(), to.string(),
             std::strerror(errno));
    return;
  }
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) return;
  // No RENAME_EXCHANGE on this file system: move the old one aside first.
  const fs::path aside = to.parent_path() / (".tmp-old-" + to.filename().string() + "-" + std::to_string(::getpid()));
  fs::remove_all(aside);
  FF_CHECK(::rename(to.c_str(), aside.c_str()) == 0, "cannot rename {}: {}", to.string(), std::strerror(errno));
  FF_CHECK(::rename(from.c_str(), to.c_str()) == 0, "cannot rename {} to {}: {}", from.string(), to.string(),
           std::strerror(errno));
  FF_CHECK(::rename(aside.c_str(), from.c_str()) == 0, "cannot rename {}: {}", aside.string(), std::strerror(errno));
}

int64_t parse_step_name(const std::string& name) {
  if (!name.starts_with("step-") || name.size() <= 5) return -1;
  int64_t step = 0;
  for (char c : name.substr(5)) {
    if (c < '0' || c > '9') return -1;
    step = step * 10 + (c - '0');
  }
  return step;
}

}  // namespace

CheckpointManager::CheckpointManager(fs::path dir, int64_t keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  FF_USER_CHECK(!ec, "cannot create the checkpoint directory {}: {}", dir_.string(), ec.message());
}

std::string CheckpointManager::step_name(int64_t step) { return fmt::format("step-{:06d}", step); }

fs::path CheckpointManager::save(const std::string& name, const CheckpointData& data) const {
  const fs::path tmp = dir_ / (".tmp-" + name + "-" + std::to_string(::getpid()));
  const fs::path final_dir = dir_ / name;
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  Manifest files;
  {
    HostTensors model = host_views(data.model);
    files[kModelFile] = io::save_safetensors(tmp / kModelFile, model.views, {{"format", "pt"}});
  }
  {
    HostTensors opt = host_views(data.optimizer);
    files[kOptimizerFile] = io::save_safetensors(tmp / kOptimizerFile, opt.views);
  }
  files[kTrainerFile] = write_text(tmp / kTrainerFile, data.trainer.dump(2) + "\n");
  if (!data.config_yaml.empty()) files[kConfigFile] = write_text(tmp / kConfigFile, data.config_yaml);
  write_text(tmp / kManifestFile, manifest_json(files));
  fsync_dir(tmp);
  move_into_place(tmp, final_dir);
  fsync_dir(dir_);
  fs::remove_all(tmp);  // the replaced checkpoint, if any
  return final_dir;
}

void CheckpointManager::commit(const std::string& name) const {
  write_text(dir_ / kLatest, name + "\n");
  auto steps = step_checkpoints();
  const int64_t excess = static_cast<int64_t>(steps.size()) - keep_last_;
  for (int64_t i = 0; i < excess; ++i)
    if (steps[i].second.filename() != name) fs::remove_all(steps[i].second);
}

std::optional<fs::path> CheckpointManager::latest() const {
  const fs::path pointer = dir_ / kLatest;
  if (!fs::exists(pointer)) return std::nullopt;
  std::string name = read_text(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  FF_USER_CHECK(!name.empty() && name.find('/') == std::string::npos, "{}: expected a checkpoint name, got '{}'",
                pointer.string(), name);
  const fs::path dir = dir_ / name;
  FF_USER_CHECK(fs::is_directory(dir), "{} names '{}', but {} does not exist", pointer.string(), name, dir.string());
  return dir;
}

std::vector<std::pair<int64_t, fs::path>> CheckpointManager::step_checkpoints() const {
  std::vector<std::pair<int64_t, fs::path>> out;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (!entry.is_directory()) continue;
    const int64_t step = parse_step_name(entry.path().filename().string());
    if (step >= 0) out.emplace_back(step, entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CheckpointManager::remove_stale_temps() const {
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".tmp-") || name.starts_with(std::string(kLatest) + ".tmp.")) fs::remove_all(entry.path());
  }
}

fs::path resolve_checkpoint(const fs::path& path) {
  FF_USER_CHECK(fs::exists(path), "checkpoint '{}' does not exist", path.string());
  if (fs::exists(path / kTrainerFile)) return path;
  for (const fs::path& dir : {path, path / "checkpoints"})
    if (fs::exists(dir / kLatest)) return *CheckpointManager(dir, 1).latest();
  throw UserError(fmt::format(
      "'{}' is not a checkpoint: expected a checkpoint directory (with trainer.json), a checkpoints directory "
      "(with 'latest') or a work directory (with checkpoints/latest)",
      path.string()));
}

LoadedCheckpoint read_checkpoint(const fs::path& dir) {
  LoadedCheckpoint out;
  out.dir = dir;
  FF_USER_CHECK(fs::is_directory(dir), "checkpoint '{}' is not a directory", dir.string());
  const Manifest files = read_manifest(dir);
  for (const auto& [name, expected] : files) check_present(dir / name, expected);
  for (const auto& [name, expected] : files)
    if (name != kModelFile && name != kOptimizerFile && name != kTrainerFile)
      check_checksum(dir / name, expected, io::checksum_file(dir / name));

  const fs::path trainer = dir / kTrainerFile;
  const std::vector<uint8_t> trainer_bytes = io::read_file(trainer);
  check_checksum(trainer, files.at(kTrainerFile), {.bytes = trainer_bytes.size(), .hash = io::checksum(trainer_bytes)});
  try {
    out.trainer = nlohmann::ordered_json::parse(trainer_bytes);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: invalid JSON ({})", trainer.string(), e.what()));
  }
  FF_USER_CHECK(out.trainer.is_object() && out.trainer.contains("step") && out.trainer["step"].is_number_integer(),
                "{}: expected a JSON object with an integer 'step'", trainer.string());
  out.model = read_verified_safetensors(dir / kModelFile, files.at(kModelFile));
  if (files.contains(kOptimizerFile))
    out.optimizer = read_verified_safetensors(dir / kOptimizerFile, files.at(kOptimizerFile));
  return out;
}

NamedTensors tensors_of(const io::SafetensorsFile& file) {
  NamedTensors out;
  for (const io::TensorRecord& r : file.tensors) {
    Tensor t = Tensor::empty(r.shape, r.dtype);
    if (!r.bytes.empty()) std::memcpy(t.raw_data(), r.bytes.data(), r.bytes.size());
    out.emplace_back(r.name, t);
  }
  return out;
}

void load_tensors_into(const io::SafetensorsFile& file, const NamedTensors& into, const std::string& what) {
  std::map<std::string, const io::TensorRecord*> records;
  for (const io::TensorRecord& r : file.tensors) records[r.name] = &r;
  std::vector<std::pair<Tensor, const io::TensorRecord*>> copies;
  for (const auto& [name, dst] : into) {
    auto it = records.find(name);
    FF_USER_CHECK(it != records.end(), "{}: missing tensor '{}' ({} {})", what, name, dtype_name(dst.dtype()),
                  shape_str(dst.shape()));
    const io::TensorRecord& r = *it->second;
    FF_USER_CHECK(r.shape == dst.shape() && r.dtype == dst.dtype(), "{}: tensor '{}' is {} {}, the model has {} {}",
                  what, name, dtype_name(r.dtype), shape_str(r.shape), dtype_name(dst.dtype()), shape_str(dst.shape()));
    copies.emplace_back(dst, &r);
    records.erase(it);
  }
  FF_USER_CHECK(records.empty(), "{}: unexpected tensor '{}' (not in the model; {} extra)", what,
                records.empty() ? "" : records.begin()->first, records.size());
  for (auto& [dst, r] : copies) {
    Tensor src = Tensor::empty(r->shape, r->dtype);
    if (!r->bytes.empty()) std::memcpy(src.raw_data(), r->bytes.data(), r->bytes.size());
    Tensor target = dst;
    copy_(target, src);
  }
}

}  // namespace ff::train
