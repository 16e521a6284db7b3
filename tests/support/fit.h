#pragma once
// Least-squares fits for convergence tests.

#include <cmath>
#include <vector>

namespace ff::testing {

// The least-squares slope of log(y) against log(x): -1/2 for a Monte Carlo error over samples x.
inline double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += std::log(x[i]) / double(x.size());
    my += std::log(y[i]) / double(x.size());
  }
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (std::log(x[i]) - mx) * (std::log(y[i]) - my);
    sxx += (std::log(x[i]) - mx) * (std::log(x[i]) - mx);
  }
  return sxy / sxx;
}

}  // namespace ff::testing
