#pragma once
// IDX files, the format of MNIST and Fashion-MNIST (docs/data.md, "IDX files"): a big-endian
// header, magic 0x000008DD (0x08: unsigned bytes, DD: the number of dimensions), one u32 per
// dimension, then the bytes, row-major. Images are 0x00000803 (count, rows, cols), labels
// 0x00000801 (count). A file starting with the gzip magic (1F 8B) is decompressed first (zlib),
// so the .gz files Debian's dataset-fashion-mnist installs are read as they are.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "data/image/image.h"

namespace ff::data {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows, cols)

  // Image i as a grey image: (rows, cols, 1).
  Image image(int64_t i) const;
};

// ff::UserError naming the file when it is unreadable, not gzip-decodable, not an IDX file of
// that kind (the message says what the magic means and what was expected), or shorter or
// longer than its header says (both sizes in the message).
IdxImages read_idx_images(const std::filesystem::path& path);
std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path);

struct IdxDataset {
  IdxImages images;
  std::vector<uint8_t> labels;  // (images.count)
};

// Both files of a split; ff::UserError naming both when the counts differ.
IdxDataset read_idx_dataset(const std::filesystem::path& images_path, const std::filesystem::path& labels_path);

}  // namespace ff::data
