// Instantiation of the CUDA attention kernels for head dims up to 48 (one file per head dim
// keeps builds incremental and parallel).

#include "kernels/cuda/attention_kernels.cuh"

namespace ff::kernels::cuda::detail {
template void launch_attention_forward<48>(const AttentionParams<float>&, float, cudaStream_t);
template void launch_attention_backward<48>(const AttentionBackwardParams<float>&, cudaStream_t);
}  // namespace ff::kernels::cuda::detail
