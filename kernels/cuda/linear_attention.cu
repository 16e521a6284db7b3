// CUDA linear attention (kernels/linear_attention.h). prefix_attention in three kernels:
//   1. chunk_sums:  every chunk of kChunk keys of every head, sum_j b_j c_j^T, in parallel;
//   2. scan_chunks: the inclusive prefix over chunks, one thread per (head, state entry);
//   3. apply:       one block per row i of a: a_i^T state(L_i / kChunk) plus the at most
//                   kChunk - 1 keys past that chunk boundary.
// The states live in a workspace of prefix_attention_workspace() elements.

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/linear_attention.h"
#include "kernels/linear_attention_math.h"

namespace ff::kernels::cuda {
namespace {

namespace lm = linear_attention_math;

constexpr int kChunk = 64;

int chunks_of(int Nb) { return (Nb + kChunk - 1) / kChunk; }

// theta: (rows, m) -> phi: (rows, 2m)
__global__ void features_forward_kernel(const float* theta, float* phi, int64_t rows, int m, float scale) {
  const int64_t n = rows * m;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / m, l = idx % m;
    float s, c;
    lm::feature_sincos(theta[idx], s, c);
    phi[r * 2 * m + l] = c * scale;
    phi[r * 2 * m + m + l] = s * scale;
  }
}

__global__ void features_backward_kernel(const float* phi, const float* dphi, float* dtheta, int64_t rows, int m) {
  const int64_t n = rows * m;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / m, l = idx % m;
    const int64_t c = r * 2 * m + l, s = c + m;
    dtheta[idx] = phi[c] * dphi[s] - phi[s] * dphi[c];
  }
}

// state(h, t) = workspace + (h * (chunks + 1) + t) * F * E; state(h, 0) = 0 and chunk t's sum
// goes to state(h, t + 1).
__global__ void chunk_sums_kernel(PrefixAttentionParams<float> p, float* workspace, int chunks) {
  const int h = blockIdx.x, t = blockIdx.y;
  const int64_t FE = int64_t(p.F) * p.E;
  float* state = workspace + (int64_t(h) * (chunks + 1) + t + 1) * FE;
  const float* b = p.b + h * p.b_strides.head;
  const float* c = p.c + h * p.c_strides.head;
  const int j0 = t * kChunk, j1 = min(j0 + kChunk, p.Nb);
  for (int64_t idx = threadIdx.x; idx < FE; idx += blockDim.x) {
    const int f = int(idx / p.E), e = int(idx % p.E);
    float acc = 0;
    for (int j = j0; j < j1; ++j) acc += b[j * p.b_strides.token + f] * c[j * p.c_strides.token + e];
    state[idx] = acc;
  }
  if (t == 0)
    for (int64_t idx = threadIdx.x; idx < FE; idx += blockDim.x) workspace[int64_t(h) * (chunks + 1) * FE + idx] = 0;
}

__global__ void scan_chunks_kernel(float* workspace, int heads, int chunks, int64_t FE) {
  const int64_t n = int64_t(heads) * FE;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = idx / FE, entry = idx % FE;
    float* base = workspace + h * (chunks + 1) * FE + entry;
    float run = 0;
    for (int t = 1; t <= chunks; ++t) {
      run += base[t * FE];
      base[t * FE] = run;
    }
  }
}

// One block per (row i, head h). Shared memory: a_i (F) and the dots with the remaining keys.
__global__ void apply_kernel(PrefixAttentionParams<float> p, const float* workspace, int chunks) {
  extern __shared__ float shared[];
  float* a_s = shared;
  float* dots = shared + p.F;
  const int i = blockIdx.x, h = blockIdx.y;
  const int64_t FE = int64_t(p.F) * p.E;
  const float* a = p.a + h * p.a_strides.head + i * p.a_strides.token;
  const float* b = p.b + h * p.b_strides.head;
  const float* c = p.c + h * p.c_strides.head;
  float* out = p.out + h * p.out_strides.head + i * p.out_strides.token;
  const int L = lm::prefix_limit(p.causal, i, p.offset, p.Nb);
  const int t = L / kChunk, j0 = t * kChunk;
  const float* state = workspace + (int64_t(h) * (chunks + 1) + t) * FE;
  for (int f = threadIdx.x; f < p.F; f += blockDim.x) a_s[f] = a[f];
  __syncthreads();
  for (int j = j0 + threadIdx.x; j < L; j += blockDim.x) {
    const float* bj = b + j * p.b_strides.token;
    float dot = 0;
    for (int f = 0; f < p.F; ++f) dot += a_s[f] * bj[f];
    dots[j - j0] = dot;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < p.E; e += blockDim.x) {
    float acc = 0;
    for (int f = 0; f < p.F; ++f) acc += a_s[f] * state[int64_t(f) * p.E + e];
    for (int j = j0; j < L; ++j) acc += dots[j - j0] * c[j * p.c_strides.token + e];
    out[e] = acc;
  }
}

__global__ void normalise_forward_kernel(const float* num_den, float* out, int64_t rows, int D, float eps, float floor) {
  const int64_t n = rows * D;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / D, d = idx % D;
    const float* nd = num_den + r * (D + 1);
    out[idx] = nd[d] / lm::safe_denominator(nd[D] + eps, floor);
  }
}

// One thread per row (D is a head dim: small).
__global__ void normalise_backward_kernel(const float* num_den, const float* out, const float* dout, float* grad,
                                          int64_t rows, int D, float eps, float floor) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    const float den = num_den[r * (D + 1) + D] + eps;
    const float inv = 1.0f / lm::safe_denominator(den, floor);
    float go = 0;
    for (int d = 0; d < D; ++d) {
      grad[r * (D + 1) + d] = dout[r * D + d] * inv;
      go += dout[r * D + d] * out[r * D + d];
    }
    grad[r * (D + 1) + D] = -go * inv * lm::safe_denominator_slope(den, floor);
  }
}

}  // namespace

template <typename T>
void fourier_features_forward(Exec exec, const T* theta, T* phi, std::int64_t rows, int m) {
  if (rows == 0 || m == 0) return;
  features_forward_kernel<<<grid_for(rows * m), kBlock, 0, exec.stream>>>(theta, phi, rows, m, 1.0f / sqrtf(float(m)));
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void fourier_features_backward(Exec exec, const T* phi, const T* dphi, T* dtheta, std::int64_t rows, int m) {
  if (rows == 0 || m == 0) return;
  features_backward_kernel<<<grid_for(rows * m), kBlock, 0, exec.stream>>>(phi, dphi, dtheta, rows, m);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
std::int64_t prefix_attention_workspace(Exec, const PrefixAttentionParams<T>& p) {
  return std::int64_t(p.heads) * (chunks_of(p.Nb) + 1) * p.F * p.E;
}

template <typename T>
void prefix_attention(Exec exec, const PrefixAttentionParams<T>& p) {
  check_prefix_attention_params(p);
  if (p.heads == 0 || p.Na == 0) return;
  FF_CHECK(p.workspace != nullptr, "prefix attention on CUDA needs a workspace of {} elements",
           prefix_attention_workspace(exec, p));
  const int chunks = chunks_of(p.Nb);
  if (chunks > 0) {
    chunk_sums_kernel<<<dim3(p.heads, chunks), kBlock, 0, exec.stream>>>(p, p.workspace, chunks);
    FF_CUDA_CHECK_LAUNCH();
    scan_chunks_kernel<<<grid_for(int64_t(p.heads) * p.F * p.E), kBlock, 0, exec.stream>>>(p.workspace, p.heads, chunks,
                                                                                          int64_t(p.F) * p.E);
    FF_CUDA_CHECK_LAUNCH();
  } else {
    FF_CUDA_CHECK(cudaMemsetAsync(p.workspace, 0, sizeof(T) * prefix_attention_workspace(exec, p), exec.stream));
  }
  const size_t shared = sizeof(float) * (p.F + kChunk);
  FF_CHECK(shared <= 48 * 1024, "prefix attention on CUDA: width F={} needs more than 48 KiB of shared memory", p.F);
  apply_kernel<<<dim3(p.Na, p.heads), 128, shared, exec.stream>>>(p, p.workspace, chunks);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void rf_normalise_forward(Exec exec, const T* num_den, T* out, std::int64_t rows, int D, T eps, T floor) {
  if (rows == 0) return;
  normalise_forward_kernel<<<grid_for(rows * D), kBlock, 0, exec.stream>>>(num_den, out, rows, D, eps, floor);
  FF_CUDA_CHECK_LAUNCH();
}

template <typename T>
void rf_normalise_backward(Exec exec, const T* num_den, const T* out, const T* dout, T* grad, std::int64_t rows, int D,
                           T eps, T floor) {
  if (rows == 0) return;
  normalise_backward_kernel<<<grid_for(rows), kBlock, 0, exec.stream>>>(num_den, out, dout, grad, rows, D, eps, floor);
  FF_CUDA_CHECK_LAUNCH();
}

template void fourier_features_forward<float>(Exec, const float*, float*, std::int64_t, int);
template void fourier_features_backward<float>(Exec, const float*, const float*, float*, std::int64_t, int);
template std::int64_t prefix_attention_workspace<float>(Exec, const PrefixAttentionParams<float>&);
template void prefix_attention<float>(Exec, const PrefixAttentionParams<float>&);
template void rf_normalise_forward<float>(Exec, const float*, float*, std::int64_t, int, float, float);
template void rf_normalise_backward<float>(Exec, const float*, const float*, const float*, float*, std::int64_t, int,
                                           float, float);

}  // namespace ff::kernels::cuda
