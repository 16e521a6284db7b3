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

void write_text(const fs::path& path, const std::string& text) {
  io::write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::string read_text(const fs::path& path) {
  std::vector<uint8_t> bytes = io::read_file(path);
  return std::string(bytes.begin(), bytes.end());
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
  {
    HostTensors model = host_views(data.model);
    io::save_safetensors(tmp / "model.safetensors", model.views, {{"format", "pt"}});
  }
  {
    HostTensors opt = host_views(data.optimizer);
    io::save_safetensors(tmp / "optimizer.safetensors", opt.views);
  }
  write_text(tmp / "trainer.json", data.trainer.dump(2) + "\n");
  if (!data.config_yaml.empty()) write_text(tmp / "config.yaml", data.config_yaml);
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
  if (fs::exists(path / "trainer.json")) return path;
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
  const fs::path trainer = dir / "trainer.json";
  FF_USER_CHECK(fs::exists(trainer), "checkpoint '{}' is incomplete: {} is missing", dir.string(), trainer.string());
  try {
    out.trainer = nlohmann::ordered_json::parse(read_text(trainer));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("{}: invalid JSON ({})", trainer.string(), e.what()));
  }
  FF_USER_CHECK(out.trainer.is_object() && out.trainer.contains("step") && out.trainer["step"].is_number_integer(),
                "{}: expected a JSON object with an integer 'step'", trainer.string());
  const fs::path model = dir / "model.safetensors";
  FF_USER_CHECK(fs::exists(model), "checkpoint '{}' is incomplete: {} is missing", dir.string(), model.string());
  out.model = io::load_safetensors(model);
  const fs::path opt = dir / "optimizer.safetensors";
  if (fs::exists(opt)) out.optimizer = io::load_safetensors(opt);
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
