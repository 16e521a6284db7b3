#pragma once
// Checkpoints: one directory per checkpoint under <work_dir>/checkpoints/:
//
//   step-000500/            model.safetensors      parameters and buffers (Module names)
//                           optimizer.safetensors  optimizer state (Optimizer::state_tensors)
//                           trainer.json           step, RNG state, data position, best
//                                                  validation loss, resolved config, version
//                           config.yaml            the resolved config (for eval and people)
//                           checksums.json         size and XXH3-64 hash of each file above,
//                                                  computed as they are written; written last
//   best/                   the same, for the lowest validation loss so far
//   latest                  one line: the name of the newest complete checkpoint ("step-000500")
//
// A checkpoint is written into `.tmp-<name>-<pid>/` (every file fsynced), which is then renamed
// to `<name>/` (atomically swapped with an existing one via renameat2(RENAME_EXCHANGE) where the
// file system supports it), the checkpoints directory is fsynced, and only then is `latest`
// rewritten atomically. A process killed at any point leaves `latest` naming a complete
// checkpoint; leftover `.tmp-*` directories are removed when the next run starts.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/safetensors.h"
#include "core/tensor/tensor.h"

namespace ff::train {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What a checkpoint holds; tensors may live on any device (they are copied to the host).
struct CheckpointData {
  NamedTensors model;
  NamedTensors optimizer;
  nlohmann::ordered_json trainer;  // written as trainer.json
  std::string config_yaml;         // written as config.yaml ("" to skip)
};

// A checkpoint read back (tensors on the CPU) and validated.
struct LoadedCheckpoint {
  std::filesystem::path dir;
  io::SafetensorsFile model;
  io::SafetensorsFile optimizer;  // empty when the directory has no optimizer.safetensors
  nlohmann::ordered_json trainer;
};

class CheckpointManager {
 public:
  // dir: <work_dir>/checkpoints (created when missing).
  CheckpointManager(std::filesystem::path dir, int64_t keep_last);

  // "step-000500" (at least 6 digits).
  static std::string step_name(int64_t step);

  // Writes <dir>/<name>/ atomically and returns its path. Does not touch `latest`.
  std::filesystem::path save(const std::string& name, const CheckpointData& data) const;
  // Points `latest` at <name> (atomic), then removes the oldest step-* checkpoints beyond
  // keep_last (never the one `latest` names).
  void commit(const std::string& name) const;
  // The checkpoint `latest` names, or nullopt when there is no `latest` file. A `latest` naming
  // a directory that is missing is an ff::UserError.
  std::optional<std::filesystem::path> latest() const;
  // step-* checkpoints present, oldest first (by step number).
  std::vector<std::pair<int64_t, std::filesystem::path>> step_checkpoints() const;
  // Removes `.tmp-*` directories left by killed writers.
  void remove_stale_temps() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int64_t keep_last_;
};

// The checkpoint a user named: a checkpoint directory (has trainer.json), a checkpoints
// directory (has `latest`), or a work directory (has checkpoints/latest). ff::UserError
// otherwise, naming the path and what was looked for.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& path);

// Reads every file of a checkpoint directory and verifies each against checksums.json (size,
// then the hash of the bytes as they are read) before trusting its content. A missing manifest,
// a file it should list but does not, a missing, truncated, corrupt or malformed file is an
// ff::UserError naming the file (and for a mismatch the expected and actual hash).
LoadedCheckpoint read_checkpoint(const std::filesystem::path& dir);

// Copies the file's tensors into `into` (same names, shapes and dtypes; any device). A missing,
// extra or mismatched tensor is an ff::UserError naming `what` (the file) and the tensor;
// nothing is changed unless everything matches.
void load_tensors_into(const io::SafetensorsFile& file, const NamedTensors& into, const std::string& what);
// The file's tensors as CPU tensors, in file order.
NamedTensors tensors_of(const io::SafetensorsFile& file);

}  // namespace ff::train
