#pragma once
// Runs a shell command as a user would type it and keeps what it printed (stdout and stderr
// together) and its exit code, for the tests that run the apps and the scripts.

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace ff::testing {

struct CommandResult {
  int code = -1;  // the exit code; -1 when the command could not run or died from a signal
  std::string output;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen(("( " + command + " ) 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace ff::testing
