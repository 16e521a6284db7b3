#pragma once
// Internal to core/dist: the backends' factories and the MPI runtime that the mpi backend, the
// nccl backend (its id exchange and host-side agreements) and abort_job share. In a build
// without Open MPI (or without CUDA) the factories throw ff::UserError and mpi::usable() is false.

#include <memory>
#include <span>

#include "core/dist/communicator.h"

namespace ff::dist {

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options);
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options);

namespace mpi {
// Whether MPI can join these processes: built with it, and started by an MPI launcher (mpirun,
// or srun --mpi=pmix / pmi2, which set PMIX_RANK / PMI_RANK).
bool usable(const LaunchInfo& launch);
// MPI_Init_thread once (MPI_THREAD_FUNNELED: only the main thread calls MPI). ff::UserError
// when MPI sees another world than the launcher's variables (srun without --mpi).
void init(const LaunchInfo& launch);
bool initialized();
// Host collectives over this job's MPI communicator, each bounded by timeout_s (ff::Error naming
// the collective and this rank when a peer does not take part in time).
void broadcast_bytes(std::span<uint8_t> bytes, int root, double timeout_s);
void barrier(double timeout_s);
void any(std::span<uint8_t> flags, double timeout_s);
}  // namespace mpi

void mpi_abort_if_initialized(int exit_code);
void mpi_finalize_if_initialized();

}  // namespace ff::dist
