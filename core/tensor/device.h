#pragma once
// Where a tensor lives.

#include <string>

#include <fmt/format.h>

namespace ff {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }
};

// Parses "cpu", "cuda" or "cuda:N"; throws ff::UserError otherwise.
Device parse_device(const std::string& name);

// True when a CUDA build runs on a machine with at least one usable GPU.
bool cuda_available();

}  // namespace ff
