#pragma once
// The bottom of the project: error types, the one check macro, and host/device annotations
// shared by CPU and CUDA code. Everything above (core, data, models, apps) uses these.

#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#if defined(__CUDACC__)
#define FF_HD __host__ __device__ __forceinline__
#else
#define FF_HD inline
#endif

namespace ff {

// A broken invariant or a failed library call: a bug or an environment problem.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input from the user (config, data file, checkpoint, command line). Apps print the
// message on one line and exit with code 2.
class UserError : public Error {
 public:
  using Error::Error;
};

namespace detail {
[[noreturn]] inline void throw_check(const char* file, int line, const char* cond,
                                     const std::string& msg) {
  throw Error(fmt::format("{}:{}: check failed: {}{}{}", file, line, cond, msg.empty() ? "" : ": ", msg));
}
}  // namespace detail

}  // namespace ff

// FF_CHECK(cond, "format {}", args...): throws ff::Error naming the file, line, condition and
// the formatted message when cond is false.
#define FF_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::ff::detail::throw_check(__FILE__, __LINE__, #cond, ::fmt::format("" __VA_ARGS__)); \
  } while (0)

// FF_USER_CHECK(cond, "format", args...): throws ff::UserError with just the message; for
// validating what the user gave us (the message must name the thing, place and expectation).
#define FF_USER_CHECK(cond, ...)                                          \
  do {                                                                    \
    if (!(cond)) [[unlikely]] throw ::ff::UserError(::fmt::format(__VA_ARGS__)); \
  } while (0)
