#include "core/tensor/print.h"

namespace ff {
namespace {

void format_dim(std::string& out, const std::vector<double>& values, const Shape& shape, const Shape& strides,
                size_t dim, int64_t offset, int64_t edge, bool integral) {
  if (dim == shape.size()) {
    out += integral ? fmt::format("{}", static_cast<int64_t>(values[offset])) : fmt::format("{:.6g}", values[offset]);
    return;
  }
  out += '[';
  const int64_t n = shape[dim];
  const bool elide = n > 2 * edge;
  for (int64_t i = 0; i < n; ++i) {
    if (elide && i == edge) {
      out += "..., ";
      i = n - edge;
    }
    format_dim(out, values, shape, strides, dim + 1, offset + i * strides[dim], edge, integral);
    if (i + 1 < n) {
      out += ',';
      if (dim + 1 < shape.size()) out += '\n' + std::string(dim + 1, ' ');
      else out += ' ';
    }
  }
  out += ']';
}

}  // namespace

std::string format_tensor(const Tensor& x, int64_t edge_items) {
  std::string out = x.str();
  if (!x.defined()) return out;
  std::vector<double> values = x.to_vector<double>();  // contiguous host copy
  out += '\n';
  format_dim(out, values, x.shape(), contiguous_strides(x.shape()), 0, 0, edge_items, !is_floating(x.dtype()));
  return out;
}

std::ostream& operator<<(std::ostream& out, const Tensor& x) { return out << format_tensor(x); }

}  // namespace ff
