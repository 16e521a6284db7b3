// Checkpoint checksums (core/train/checkpoint.h): checksums.json lists the size and XXH3-64 of
// every file; read_checkpoint refuses a flipped byte, a truncated or missing file and a missing
// or incomplete manifest, naming the file.

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/io/checksum.h"
#include "core/io/safetensors.h"
#include "core/train/checkpoint.h"
#include "data/temp_dir.h"
#include "kernels/common.h"

using namespace ff;
using namespace ff::train;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const char* kFiles[] = {"config.yaml", "model.safetensors", "optimizer.safetensors", "trainer.json"};

CheckpointData small_checkpoint() {
  CheckpointData data;
  data.model = {{"w", Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})},
                {"b", Tensor::from_vector(std::vector<float>{0.5f, -0.5f}, {2})}};
  data.optimizer = {{"exp_avg.w", Tensor::from_vector(std::vector<float>(6, 0.25f), {2, 3})}};
  data.trainer = {{"format", 1}, {"step", 10}};
  data.config_yaml = "a: 1\n";
  return data;
}

// Saves small_checkpoint() as <dir>/checkpoints/step-000010 and returns that directory.
fs::path saved_checkpoint(const TempDir& dir) {
  return CheckpointManager(dir / "checkpoints", 2).save(CheckpointManager::step_name(10), small_checkpoint());
}

nlohmann::json manifest_of(const fs::path& ckpt) { return nlohmann::json::parse(read_file(ckpt / "checksums.json")); }

// The message of the ff::UserError read_checkpoint throws, or a note that it did not.
std::string read_error(const fs::path& ckpt) {
  try {
    read_checkpoint(ckpt);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(read_checkpoint accepted the checkpoint)";
}

// Offset of the first tensor byte of a safetensors file: 8 + its header length.
size_t tensor_data_offset(const std::string& bytes) {
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  return 8 + static_cast<size_t>(header);
}

void flip_byte(const fs::path& path, size_t at) {
  std::string bytes = read_file(path);
  REQUIRE(at < bytes.size());
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  write_file(path, bytes);
}

// The manifest's hash of `name`, and the file's hash now.
std::string listed_hash(const fs::path& ckpt, const std::string& name) {
  return manifest_of(ckpt)["files"][name]["hash"].get<std::string>();
}
std::string actual_hash(const fs::path& path) { return io::checksum_hex(io::checksum_file(path).hash); }

}  // namespace

TEST_CASE("checkpoint checksums: a saved checkpoint lists every file and reads back verified", "[checkpoint]") {
  TempDir dir;
  const fs::path ckpt = saved_checkpoint(dir);
  const nlohmann::json manifest = manifest_of(ckpt);
  CHECK(manifest["algorithm"] == "xxh3_64");
  std::vector<std::string> listed;
  for (const auto& [name, entry] : manifest["files"].items()) {
    listed.push_back(name);
    INFO(name);
    CHECK(entry["bytes"].get<uint64_t>() == fs::file_size(ckpt / name));
    CHECK(entry["hash"] == actual_hash(ckpt / name));
  }
  CHECK(listed == std::vector<std::string>(std::begin(kFiles), std::end(kFiles)));
  // config.yaml is "a: 1\n": `printf 'a: 1\n' | xxhsum -H3` prints 86fcb6dcae423163.
  CHECK(manifest["files"]["config.yaml"] == nlohmann::json{{"bytes", 5}, {"hash", "86fcb6dcae423163"}});

  LoadedCheckpoint loaded = read_checkpoint(ckpt);
  CHECK(loaded.trainer["step"] == 10);
  const NamedTensors model = tensors_of(loaded.model);
  REQUIRE(model.size() == 2);
  CHECK(model[0].first == "b");
  CHECK(model[0].second.to_vector<float>() == std::vector<float>{0.5f, -0.5f});
  CHECK(model[1].first == "w");
  CHECK(model[1].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  REQUIRE(loaded.optimizer.tensors.size() == 1);
  CHECK(loaded.optimizer.tensors[0].name == "exp_avg.w");
}

TEST_CASE("checkpoint checksums: one changed byte in any file is refused, naming the file and both hashes",
          "[checkpoint]") {
  struct Case {
    std::string file;
    std::function<size_t(const std::string&)> where;  // a byte whose change keeps the file well-formed
  };
  const std::vector<Case> cases = {
      {"model.safetensors", [](const std::string& b) { return tensor_data_offset(b) + 5; }},
      {"optimizer.safetensors", [](const std::string& b) { return tensor_data_offset(b) + 1; }},
      {"trainer.json", [](const std::string& b) { return b.find("10") + 1; }},  // step 10 -> 11
      {"config.yaml", [](const std::string& b) { return b.find('1'); }},        // a: 1 -> a: 0
  };
  for (const Case& c : cases) {
    TempDir dir;
    const fs::path ckpt = saved_checkpoint(dir);
    const fs::path path = ckpt / c.file;
    const std::string listed = listed_hash(ckpt, c.file);
    flip_byte(path, c.where(read_file(path)));
    const std::string actual = actual_hash(path);
    REQUIRE(actual != listed);
    // The change alone breaks nothing the parsers check: only the checksum catches it.
    if (c.file.ends_with(".safetensors")) CHECK_NOTHROW(io::load_safetensors(path));
    if (c.file == "trainer.json") CHECK(nlohmann::json::parse(read_file(path))["step"] == 11);

    const std::string message = read_error(ckpt);
    INFO(message);
    CHECK(message == path.string() + ": checksum mismatch (expected xxh3_64 " + listed + ", got " + actual +
                         "): the file is corrupt or was modified since it was saved; use another checkpoint");
  }
}

TEST_CASE("checkpoint checksums: a damaged safetensors header is reported as a checksum mismatch", "[checkpoint]") {
  TempDir dir;
  const fs::path ckpt = saved_checkpoint(dir);
  const fs::path model = ckpt / "model.safetensors";
  flip_byte(model, 8);  // the header's opening '{'
  CHECK_THROWS_AS(io::load_safetensors(model), UserError);
  const std::string message = read_error(ckpt);
  CHECK_THAT(message, Contains(model.string() + ": checksum mismatch (expected xxh3_64 " +
                               listed_hash(ckpt, "model.safetensors") + ", got " + actual_hash(model) + ")"));
}

TEST_CASE("checkpoint checksums: a truncated or missing file is refused, naming it", "[checkpoint]") {
  TempDir dir;
  const fs::path ckpt = saved_checkpoint(dir);
  const fs::path model = ckpt / "model.safetensors";
  const uint64_t size = fs::file_size(model);
  fs::resize_file(model, size - 1);
  CHECK(read_error(ckpt) == fmt::format("{}: {} bytes, checksums.json lists {}: the file is truncated, corrupt or "
                                        "was modified since it was saved; use another checkpoint",
                                        model.string(), size - 1, size));

  const fs::path again = saved_checkpoint(dir);
  fs::remove(again / "optimizer.safetensors");
  CHECK(read_error(again) == fmt::format("checkpoint '{}' is incomplete: optimizer.safetensors is missing "
                                         "(checksums.json lists it); use another checkpoint",
                                         again.string()));
}

TEST_CASE("checkpoint checksums: a missing, incomplete or malformed manifest is refused", "[checkpoint]") {
  TempDir dir;
  const fs::path ckpt = saved_checkpoint(dir);
  const fs::path manifest_path = ckpt / "checksums.json";
  const nlohmann::json good = manifest_of(ckpt);
  auto with_manifest = [&](const nlohmann::json& manifest) {
    write_file(manifest_path, manifest.dump());
    return read_error(ckpt);
  };

  fs::remove(manifest_path);
  CHECK(read_error(ckpt) == fmt::format("checkpoint '{}' has no checksums.json, so its files cannot be verified: it "
                                        "is incomplete or was written before checkpoints carried checksums; use "
                                        "another checkpoint",
                                        ckpt.string()));

  for (const char* name : kFiles) {
    nlohmann::json manifest = good;
    manifest["files"].erase(name);
    CHECK(with_manifest(manifest) == fmt::format("{} does not list {}: the checkpoint is corrupt or was modified; "
                                                 "use another checkpoint",
                                                 manifest_path.string(), name));
  }
  nlohmann::json other_algorithm = good;
  other_algorithm["algorithm"] = "xxh64";
  CHECK(with_manifest(other_algorithm) ==
        manifest_path.string() + ": the checksums are 'xxh64', this build verifies 'xxh3_64'");
  nlohmann::json outside = good;
  outside["files"]["../trainer.json"] = good["files"]["trainer.json"];
  CHECK(with_manifest(outside) ==
        manifest_path.string() + ": '../trainer.json' is not a file name of the checkpoint directory");
  nlohmann::json short_hash = good;
  short_hash["files"]["trainer.json"]["hash"] = "abc";
  CHECK_THAT(with_manifest(short_hash), Contains(manifest_path.string() + ": the entry of 'trainer.json' is "));
  write_file(manifest_path, "{\"algorithm\": ");
  CHECK_THAT(read_error(ckpt), Contains(manifest_path.string() + ": invalid JSON"));

  // An optimizer-less checkpoint stays readable when the manifest agrees.
  nlohmann::json no_optimizer = good;
  no_optimizer["files"].erase("optimizer.safetensors");
  fs::remove(ckpt / "optimizer.safetensors");
  write_file(manifest_path, no_optimizer.dump());
  CHECK(read_checkpoint(ckpt).optimizer.tensors.empty());
}
