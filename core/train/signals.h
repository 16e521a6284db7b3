#pragma once
// Stopping a run cleanly. SIGTERM (Slurm's notice before a kill, `scancel`), SIGUSR1 (Slurm's
// `--signal=USR1@120`) and a first SIGINT (Ctrl-C) ask the trainer to stop. The handler only
// records the signal; the trainer notices it at the next step boundary, saves a checkpoint and
// returns TrainOutcome::Stopped, and the app exits with kExitStopped. A second SIGINT stops the
// process at once (the handler is reset after the first, so the default action applies).

namespace ff::train {

// Installs the handlers for SIGTERM, SIGUSR1 and SIGINT (idempotent).
void install_stop_handlers();
// The signal number that asked to stop, or 0.
int stop_requested();
// Forgets a recorded signal (tests; a new run in the same process).
void clear_stop_request();
// Records a stop request as the handler would.
void request_stop(int signal_number);

}  // namespace ff::train
