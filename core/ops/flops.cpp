#include "core/ops/flops.h"

#include <atomic>

namespace ff {
namespace {
std::atomic<double> g_model_flops{0.0};
}  // namespace

void add_model_flops(double flops) { g_model_flops.fetch_add(flops, std::memory_order_relaxed); }
double model_flops() { return g_model_flops.load(std::memory_order_relaxed); }
void reset_model_flops() { g_model_flops.store(0.0, std::memory_order_relaxed); }

}  // namespace ff
