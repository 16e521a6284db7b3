#pragma once
// The message of the ff::UserError that f throws, for tests that compare messages exactly.

#include <functional>
#include <string>

#include "kernels/common.h"

namespace ff::testing {

inline std::string user_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ff::UserError& e) {
    return e.what();
  }
  return "(no ff::UserError)";
}

}  // namespace ff::testing
