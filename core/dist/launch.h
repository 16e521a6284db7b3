#pragma once
// Who this process is in a multi-process job, as the launcher says it through the environment:
//
//   FF_RANK, FF_WORLD_SIZE, FF_LOCAL_RANK               explicit (any launcher, or by hand)
//   OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK            mpirun (Open MPI)
//   SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID   srun (a job step; not the batch script)
//
// in that order of precedence: mpirun inside a Slurm allocation describes its own processes,
// and a batch script that starts the trainer without srun is one process even though
// SLURM_NTASKS says how many tasks the allocation has. No variable set: one process.

#include <map>
#include <string>

namespace ff::dist {

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;          // among the processes of this node: the GPU it binds
  std::string launcher = "";   // "FF_RANK", "mpirun", "srun"; empty for a single process
  bool by_mpi_launcher() const { return launcher == "mpirun"; }
};

// From the process environment. ff::UserError naming the variables when they are incomplete
// (FF_RANK without FF_WORLD_SIZE), not whole numbers, or out of range (rank >= world size).
LaunchInfo launch_info();
// The same from given variables (tests).
LaunchInfo launch_info(const std::map<std::string, std::string>& env);

// "rank 1 of 4 (mpirun)" / "one process".
std::string describe(const LaunchInfo& info);

// The GPU this process binds among the `visible` ones: its local rank, or the only one when the
// launcher gave each process its own (CUDA_VISIBLE_DEVICES per task, srun --gpus-per-task=1).
// ff::UserError when the node has fewer GPUs than processes.
int local_gpu(const LaunchInfo& info, int visible);

}  // namespace ff::dist
