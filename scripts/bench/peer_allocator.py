"""The allocator a PyTorch peer runs with, shared by attention_peer.py, lm_peer.py and
vit_peer.py. A module imported by them, not a script.

Page faults are expensive on the project's VMs and PyTorch with glibc's default malloc pays
them on every large tensor, so a fair comparison gives the peer its best allocator
(docs/perf/README.md):

  default   glibc's malloc as configured by nobody (LD_PRELOAD and GLIBC_TUNABLES removed)
  tcmalloc  LD_PRELOAD=TCMALLOC (Debian's libtcmalloc-minimal4, scripts/bench/setup-peers.sh)
  tunables  GLIBC_TUNABLES=TUNABLES: glibc's malloc keeps freed memory mapped

parse_args(ap) adds --allocator to the script's parser, parses, and re-executes the script
with the chosen environment (before torch is imported: the preload must be in place when the
process starts), or, when --allocator is not given, leaves the environment as it was started. describe() is what the
JSON records: the choice and the variables the process really ran with, with the thread settings
that also decide a peer's speed (OMP_WAIT_POLICY, and OPENBLAS_NUM_THREADS: torch's GEMMs run
on OpenBLAS's own threads unless it is 1).
"""

import os
import sys

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
CHOICES = ("default", "tcmalloc", "tunables")
_APPLIED = "FF_PEER_ALLOCATOR"  # set in the re-executed process, so it does not loop


def add_option(ap):
    ap.add_argument("--allocator", choices=CHOICES,
                    help="run with glibc's default malloc, tcmalloc preloaded or glibc tunables that keep "
                         "freed memory (default: the environment as started, recorded in the JSON)")


def environment(choice, env):
    """A copy of env that selects the allocator `choice`."""
    env = dict(env)
    env.pop("LD_PRELOAD", None)
    env.pop("GLIBC_TUNABLES", None)
    if choice == "tcmalloc":
        if not os.path.exists(TCMALLOC):
            sys.exit(f"--allocator tcmalloc: {TCMALLOC} is missing (scripts/bench/setup-peers.sh)")
        env["LD_PRELOAD"] = TCMALLOC
    elif choice == "tunables":
        env["GLIBC_TUNABLES"] = TUNABLES
    env[_APPLIED] = choice
    return env


def parse_args(ap):
    """ap.parse_args() with --allocator added and applied."""
    add_option(ap)
    args = ap.parse_args()
    apply(args.allocator)
    return args


def apply(choice):
    """Re-executes this process under `choice` unless it already runs under it; None: no change."""
    if choice is None or os.environ.get(_APPLIED) == choice:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, environment(choice, os.environ))


def describe():
    """{allocator, ld_preload, glibc_tunables, omp_wait_policy, openblas_num_threads} of this process."""
    preload = os.environ.get("LD_PRELOAD", "")
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    name = os.environ.get(_APPLIED)
    if name is None:  # not chosen by --allocator: name what the environment does
        name = "tcmalloc" if "tcmalloc" in preload else "tunables" if tunables else "default"
        if preload and "tcmalloc" not in preload:
            name = "other"
    return {"allocator": name, "ld_preload": preload, "glibc_tunables": tunables,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "")}
