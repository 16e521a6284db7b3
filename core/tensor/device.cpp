#include "core/tensor/device.h"

#include "kernels/common.h"
#include "kernels/device_query.h"

namespace ff {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "cuda") return Device::cuda(0);
  if (name.rfind("cuda:", 0) == 0) {
    const std::string index = name.substr(5);
    bool digits = !index.empty() && index.find_first_not_of("0123456789") == std::string::npos;
    if (digits && index.size() < 4) return Device::cuda(std::stoi(index));
  }
  throw UserError(fmt::format("unknown device '{}': expected cpu, cuda or cuda:N", name));
}

bool cuda_available() { return kernels::cuda_device_count() > 0; }

}  // namespace ff
