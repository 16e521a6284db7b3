#pragma once
// The bottom of the project: error types, the one check macro, and host/device annotations
// shared by CPU and CUDA code. Everything above (core, data, models, apps) uses these.

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#include <sstream>
#else
#include <fmt/format.h>
#endif

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

#if defined(__CUDACC__)
// nvcc cannot compile fmt's headers, so CUDA translation units format check messages with
// this minimal "{}" substitution (no format specs).
template <typename... Args>
std::string format_message(const char* pattern, const Args&... args) {
  std::ostringstream arg_text[sizeof...(Args) + 1];
  size_t n = 0;
  ((arg_text[n++] << args), ...);
  std::string out;
  size_t next = 0;
  for (const char* p = pattern; *p; ++p) {
    if (p[0] == '{' && p[1] == '}' && next < n) {
      out += arg_text[next++].str();
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}
inline std::string format_message() { return {}; }
#define FF_FORMAT(...) ::ff::detail::format_message(__VA_ARGS__)
#else
#define FF_FORMAT(...) ::fmt::format(__VA_ARGS__)
#endif

[[noreturn]] inline void throw_check(const char* file, int line, const char* cond,
                                     const std::string& msg) {
  std::string text = std::string(file) + ":" + std::to_string(line) + ": check failed: " + cond;
  if (!msg.empty()) text += ": " + msg;
  throw Error(text);
}
}  // namespace detail

}  // namespace ff

// FF_CHECK(cond, "format {}", args...): throws ff::Error naming the file, line, condition and
// the formatted message when cond is false.
#define FF_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::ff::detail::throw_check(__FILE__, __LINE__, #cond, FF_FORMAT("" __VA_ARGS__)); \
  } while (0)

// FF_USER_CHECK(cond, "format", args...): throws ff::UserError with just the message; for
// validating what the user gave us (the message must name the thing, place and expectation).
#define FF_USER_CHECK(cond, ...)                                          \
  do {                                                                    \
    if (!(cond)) [[unlikely]] throw ::ff::UserError(FF_FORMAT(__VA_ARGS__)); \
  } while (0)
