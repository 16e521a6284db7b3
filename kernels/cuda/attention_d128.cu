// Instantiation of the CUDA attention kernels for head dims up to 128 (one file per head dim
// keeps builds incremental and parallel).

#include "kernels/cuda/attention_kernels.cuh"

namespace ff::kernels::cuda::detail {
template void launch_attention_forward<128>(const AttentionParams<float>&, float, cudaStream_t);
template void launch_attention_backward<128>(const AttentionBackwardParams<float>&, cudaStream_t);
}  // namespace ff::kernels::cuda::detail
