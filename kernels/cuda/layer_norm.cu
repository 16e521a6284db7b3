#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/row_reduce.cuh"
#include "kernels/layer_norm.h"
#include "kernels/reduce.h"

namespace ff::kernels::cuda {
namespace {

// Rows per partial sum of the parameter gradients.
constexpr int64_t kParamChunk = 256;
constexpr int kParamCols = 32;  // columns per block (threadIdx.x)
constexpr int kParamRows = 8;   // rows walked in parallel (threadIdx.y)

int64_t param_chunks(int64_t rows) { return (rows + kParamChunk - 1) / kParamChunk; }

// x: (rows, D), weight/bias: (D) or null -> y: (rows, D), mean/rstd: (rows)
template <int kThreads>
__global__ void layer_norm_forward_kernel(const float* x, const float* weight, const float* bias, float* y,
                                          float* mean, float* rstd, int64_t rows, int64_t D, float eps) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= rows) return;
  const float* xr = x + row * D;
  float* yr = y + row * D;
  float sum = 0.0f;
  for (int64_t j = G::lane(); j < D; j += kThreads) sum += xr[j];
  const float m = G::all_reduce(sum, AddOp{}) / float(D);
  float sq = 0.0f;
  for (int64_t j = G::lane(); j < D; j += kThreads) {
    const float c = xr[j] - m;
    sq += c * c;
  }
  const float rs = rsqrtf(G::all_reduce(sq, AddOp{}) / float(D) + eps);
  for (int64_t j = G::lane(); j < D; j += kThreads) {
    float v = layer_norm_xhat(xr[j], m, rs);
    if (weight) v *= weight[j];
    if (bias) v += bias[j];
    yr[j] = v;
  }
  if (G::lane() == 0) {
    mean[row] = m;
    rstd[row] = rs;
  }
}

// x, g: (rows, D), weight: (D) or null, mean/rstd: (rows) -> dx: (rows, D)
template <int kThreads>
__global__ void layer_norm_dx_kernel(const float* x, const float* weight, const float* mean, const float* rstd,
                                     const float* g, float* dx, int64_t rows, int64_t D) {
  using G = RowGroup<kThreads>;
  const int64_t row = G::row();
  if (row >= rows) return;
  const float* xr = x + row * D;
  const float* gr = g + row * D;
  float* dr = dx + row * D;
  const float m = mean[row], rs = rstd[row];
  float2 sums = make_float2(0.0f, 0.0f);  // (sum gw, sum gw * xhat)
  for (int64_t j = G::lane(); j < D; j += kThreads) {
    const float gw = weight ? gr[j] * weight[j] : gr[j];
    sums.x += gw;
    sums.y += gw * layer_norm_xhat(xr[j], m, rs);
  }
  sums = G::all_reduce(sums, AddOp{});
  const float mean_gw = sums.x / float(D), mean_gwx = sums.y / float(D);
  for (int64_t j = G::lane(); j < D; j += kThreads) {
    const float gw = weight ? gr[j] * weight[j] : gr[j];
    dr[j] = layer_norm_dx(gw, layer_norm_xhat(xr[j], m, rs), rs, mean_gw, mean_gwx);
  }
}

// Partial column sums of g * xhat and g over chunks of kParamChunk rows:
//   partial_dw, partial_db: (chunks, D). Block (kParamCols, kParamRows), grid (D / kParamCols, chunks).
__global__ void layer_norm_param_partial_kernel(const float* x, const float* mean, const float* rstd,
                                                const float* g, float* partial_dw, float* partial_db,
                                                int64_t rows, int64_t D) {
  __shared__ float dw_tile[kParamRows][kParamCols + 1];
  __shared__ float db_tile[kParamRows][kParamCols + 1];
  const int64_t col = int64_t(blockIdx.x) * kParamCols + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t end = min(rows, (chunk + 1) * kParamChunk);
  float dw = 0.0f, db = 0.0f;
  if (col < D) {
    for (int64_t r = chunk * kParamChunk + threadIdx.y; r < end; r += kParamRows) {
      const float gv = g[r * D + col];
      dw += gv * layer_norm_xhat(x[r * D + col], mean[r], rstd[r]);
      db += gv;
    }
  }
  dw_tile[threadIdx.y][threadIdx.x] = dw;
  db_tile[threadIdx.y][threadIdx.x] = db;
  __syncthreads();
  if (threadIdx.y == 0 && col < D) {
    for (int k = 1; k < kParamRows; ++k) {
      dw += dw_tile[k][threadIdx.x];
      db += db_tile[k][threadIdx.x];
    }
    partial_dw[chunk * D + col] = dw;
    partial_db[chunk * D + col] = db;
  }
}

template <int kThreads>
void launch_forward(const float* x, const float* weight, const float* bias, float* y, float* mean, float* rstd,
                    int64_t rows, int64_t D, float eps, cudaStream_t stream) {
  layer_norm_forward_kernel<kThreads>
      <<<RowGroup<kThreads>::row_blocks(rows), kBlock, 0, stream>>>(x, weight, bias, y, mean, rstd, rows, D, eps);
}

template <int kThreads>
void launch_dx(const float* x, const float* weight, const float* mean, const float* rstd, const float* g,
               float* dx, int64_t rows, int64_t D, cudaStream_t stream) {
  layer_norm_dx_kernel<kThreads>
      <<<RowGroup<kThreads>::row_blocks(rows), kBlock, 0, stream>>>(x, weight, mean, rstd, g, dx, rows, D);
}

}  // namespace

template <typename T>
void layer_norm_forward(Exec exec, const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t D, double eps) {
  if (rows == 0 || D == 0) return;
  cudaStream_t stream = exec.stream;
  if (D <= kMaxWarpRow) {
    launch_forward<32>(x, weight, bias, y, mean, rstd, rows, D, float(eps), stream);
  } else {
    launch_forward<kBlock>(x, weight, bias, y, mean, rstd, rows, D, float(eps), stream);
  }
  FF_CUDA_CHECK_LAUNCH();
}

int64_t layer_norm_backward_workspace(Exec, int64_t rows, int64_t D) { return 2 * param_chunks(rows) * D; }

template <typename T>
void layer_norm_backward(Exec exec, const T* x, const T* weight, const T* mean, const T* rstd, const T* g, T* dx,
                         T* dweight, T* dbias, int64_t rows, int64_t D, float* workspace) {
  if (D == 0) return;
  cudaStream_t stream = exec.stream;
  if (dx && rows > 0) {
    if (D <= kMaxWarpRow) {
      launch_dx<32>(x, weight, mean, rstd, g, dx, rows, D, stream);
    } else {
      launch_dx<kBlock>(x, weight, mean, rstd, g, dx, rows, D, stream);
    }
    FF_CUDA_CHECK_LAUNCH();
  }
  if (!dweight && !dbias) return;
  if (rows == 0) {
    if (dweight) FF_CUDA_CHECK(cudaMemsetAsync(dweight, 0, D * sizeof(float), stream));
    if (dbias) FF_CUDA_CHECK(cudaMemsetAsync(dbias, 0, D * sizeof(float), stream));
    return;
  }
  FF_CHECK(workspace != nullptr, "layer_norm_backward needs a workspace of {} floats",
           layer_norm_backward_workspace(exec, rows, D));
  const int64_t chunks = param_chunks(rows);
  FF_CHECK(chunks <= 65535, "layer_norm_backward: {} rows is more than this kernel's grid allows", rows);
  float* partial_dw = workspace;
  float* partial_db = workspace + chunks * D;
  const dim3 grid(static_cast<unsigned>((D + kParamCols - 1) / kParamCols), static_cast<unsigned>(chunks));
  const dim3 block(kParamCols, kParamRows);
  layer_norm_param_partial_kernel<<<grid, block, 0, stream>>>(x, mean, rstd, g, partial_dw, partial_db, rows, D);
  FF_CUDA_CHECK_LAUNCH();
  // Sum the chunks in a fixed order: (1, chunks, D) -> (D).
  if (dweight) sum_axis<float>(exec, partial_dw, dweight, 1, chunks, D);
  if (dbias) sum_axis<float>(exec, partial_db, dbias, 1, chunks, D);
}

template void layer_norm_forward<float>(Exec, const float*, const float*, const float*, float*, float*, float*,
                                        int64_t, int64_t, double);
template void layer_norm_backward<float>(Exec, const float*, const float*, const float*, const float*, const float*,
                                         float*, float*, float*, int64_t, int64_t, float*);

}  // namespace ff::kernels::cuda
