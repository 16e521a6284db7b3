#pragma once
// How processes that share no MPI learn one small value from rank 0 (the NCCL unique id, 128
// bytes) before they can talk: a rendezvous named by the environment variable FF_RENDEZVOUS.
//
//   file:PATH    rank 0 writes PATH (atomically, refusing one that exists: a previous job's id
//                would pair processes of two jobs), the others wait for it to appear; PATH must
//                be on a file system every node sees, and unique to the job (e.g. with
//                $SLURM_JOB_ID in it). Rank 0 removes it once every process has joined.
//   HOST:PORT    rank 0 listens on PORT (all interfaces) and hands the value to each of the
//                world_size - 1 processes that connect to HOST:PORT; HOST is rank 0's node
//                (e.g. the first host of $SLURM_JOB_NODELIST). Only the value travels this way:
//                the collectives themselves are NCCL's.
//
// Both wait at most timeout_s for the other side; ff::Error naming the rendezvous otherwise.

#include <cstdint>
#include <string>
#include <vector>

namespace ff::dist {

struct Rendezvous {
  enum class Kind { File, Tcp } kind = Kind::File;
  std::string path;  // File
  std::string host;  // Tcp
  int port = 0;      // Tcp
};

// Parses a FF_RENDEZVOUS value; ff::UserError naming the variable and both forms otherwise.
Rendezvous parse_rendezvous(const std::string& spec);

// Rank 0 passes `value` and gets it back; every other rank gets rank 0's value.
std::vector<uint8_t> exchange_from_root(const Rendezvous& where, int rank, int world_size,
                                        const std::vector<uint8_t>& value, double timeout_s);

// Rank 0, once every process has joined: removes the file of a file rendezvous.
void finish_rendezvous(const Rendezvous& where);

}  // namespace ff::dist
