#pragma once
// One split of an image-classification data set, whatever its files: an ImageFolder (JPEG
// files, data/image/image_folder.h) or a range of an IDX file pair (data/image/idx.h), and the
// per-sample work the loader's threads do on it: read, decode (at a reduced JPEG scale when the
// transform needs fewer pixels) and transform into the batch slot.
//
//   out: (C, S, S) float, S the transform's image_size, C its channels

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/image/idx.h"
#include "data/image/image.h"
#include "data/image/image_folder.h"
#include "data/image/sample_rng.h"
#include "data/image/transforms.h"

namespace ff::data {

class ImageSource {
 public:
  ImageSource(std::string name, ImageFolder folder);
  // Images [begin, end) of `idx`, read from `file` (for messages).
  ImageSource(std::string name, std::shared_ptr<const IdxDataset> idx, int64_t begin, int64_t end,
              std::filesystem::path file);

  const std::string& name() const { return name_; }
  int64_t size() const;
  int64_t label(int64_t i) const;
  // For messages and skipped-file lists: the JPEG's path, or "<idx file> (image k)".
  std::string file(int64_t i) const;
  int64_t channels() const { return folder_ ? 3 : 1; }  // JPEGs decode to RGB

  // Sample i through the train transform with its own stream: the crop is drawn on the full
  // image, then the JPEG is decoded at the smallest scale keeping the crop at least
  // image_size pixels wide and high (full size when `scaled_decode` is false).
  void train_sample(int64_t i, SampleRng& rng, const TrainTransform& transform, bool scaled_decode, float* out,
                    TransformScratch& scratch) const;
  // Sample i through the eval transform: decoded no smaller than the transform's resize.
  void eval_sample(int64_t i, const EvalTransform& transform, bool scaled_decode, float* out,
                   TransformScratch& scratch) const;

 private:
  // An image opened but not decoded: its full size, and the decode at a reduced size.
  struct Pending {
    int64_t height = 0, width = 0;
    std::vector<uint8_t> bytes;  // JPEG
    Image image;                 // IDX
    std::string name;
    // The image at the smallest JPEG scale with at least need_w x need_h pixels (IDX: itself).
    Image decode(int64_t need_w, int64_t need_h) const;
  };
  Pending open(int64_t i) const;

  std::string name_;
  std::optional<ImageFolder> folder_;
  std::shared_ptr<const IdxDataset> idx_;
  int64_t begin_ = 0, end_ = 0;
  std::filesystem::path file_;
};

}  // namespace ff::data
