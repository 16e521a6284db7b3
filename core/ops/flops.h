#pragma once
// A process-wide count of model FLOPs, 2 per multiply-add: every GEMM (matmul, linear and the
// GEMMs of their backward), exact attention's products per visible (query, key) pair (softmax:
// QK^T and PV forward, 4 D; dP, dV, dQ, dK backward, 8 D; Fourier: only PV, 2 D and 4 D, the
// sinc score being elementwise work), and the linear kinds' prefix products (2 F E per row of
// each side). Work a kernel repeats (the fused backward's recomputed scores) is not counted.
// `fourierformer-bench train` reads it around its timed steps (docs/perf/README.md).

namespace ff {

void add_model_flops(double flops);
double model_flops();  // since the last reset
void reset_model_flops();

}  // namespace ff
