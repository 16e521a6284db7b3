#include "core/train/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace ff::train {

namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free atomic");

constexpr char kInterruptNotice[] =
    "\ninterrupted: saving a checkpoint at the end of this step (Ctrl-C again stops at once, without saving)\n";

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal.store(signal_number, std::memory_order_relaxed);
  if (signal_number == SIGINT) {
    // write(2) is async-signal-safe; the result is irrelevant (nothing to do if stderr is gone).
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kInterruptNotice, sizeof(kInterruptNotice) - 1);
  }
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
  // SA_RESETHAND: the first Ctrl-C is a request, the second one the default (terminate).
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
}

int stop_requested() { return g_stop_signal.load(std::memory_order_relaxed); }
void clear_stop_request() { g_stop_signal.store(0, std::memory_order_relaxed); }
void request_stop(int signal_number) { g_stop_signal.store(signal_number, std::memory_order_relaxed); }

}  // namespace ff::train
