#include "data/image/image_source.h"

#include <fmt/format.h>

#include <algorithm>

#include "data/image/jpeg.h"

namespace ff::data {

ImageSource::ImageSource(std::string name, ImageFolder folder) : name_(std::move(name)), folder_(std::move(folder)) {}

ImageSource::ImageSource(std::string name, std::shared_ptr<const IdxDataset> idx, int64_t begin, int64_t end,
                         std::filesystem::path file)
    : name_(std::move(name)), idx_(std::move(idx)), begin_(begin), end_(end), file_(std::move(file)) {}

int64_t ImageSource::size() const { return folder_ ? folder_->size() : end_ - begin_; }

int64_t ImageSource::label(int64_t i) const {
  return folder_ ? folder_->label(i) : idx_->labels[static_cast<size_t>(begin_ + i)];
}

std::string ImageSource::file(int64_t i) const {
  return folder_ ? folder_->path(i).string() : fmt::format("{} (image {})", file_.string(), begin_ + i);
}

Image ImageSource::Pending::decode(int64_t need_w, int64_t need_h) const {
  if (bytes.empty()) return image;
  return decode_jpeg(bytes, name, choose_scale(width, height, need_w, need_h));
}

ImageSource::Pending ImageSource::open(int64_t i) const {
  Pending p;
  if (folder_) {
    p.bytes = folder_->read(i);
    p.name = folder_->path(i).string();
    const JpegInfo info = read_jpeg_info(p.bytes, p.name);
    p.height = info.height;
    p.width = info.width;
  } else {
    p.image = idx_->images.image(begin_ + i);
    p.height = p.image.height;
    p.width = p.image.width;
  }
  return p;
}

void ImageSource::train_sample(int64_t i, SampleRng& rng, const TrainTransform& transform, bool scaled_decode,
                               float* out, TransformScratch& scratch) const {
  const Pending pending = open(i);
  const CropRect crop = transform.draw_crop(pending.height, pending.width, rng);
  const int64_t S = transform.image_size();
  // The crop must keep at least S x S pixels after the reduction (its own size when smaller).
  const int64_t need_w = scaled_decode ? (S * pending.width + crop.width - 1) / crop.width : pending.width;
  const int64_t need_h = scaled_decode ? (S * pending.height + crop.height - 1) / crop.height : pending.height;
  const Image image = pending.decode(need_w, need_h);
  transform.from_crop(image, pending.height, pending.width, crop, rng, out, scratch);
}

void ImageSource::eval_sample(int64_t i, const EvalTransform& transform, bool scaled_decode, float* out,
                              TransformScratch& scratch) const {
  const Pending pending = open(i);
  // The short side goes to resize_size (or is cropped as it is): decode no smaller than that.
  const int64_t short_side = std::min(pending.height, pending.width);
  const int64_t target = transform.config().resize ? transform.resize_size() : short_side;
  const int64_t need_w = scaled_decode ? (target * pending.width + short_side - 1) / short_side : pending.width;
  const int64_t need_h = scaled_decode ? (target * pending.height + short_side - 1) / short_side : pending.height;
  (transform)(pending.decode(need_w, need_h), out, scratch);
}

}  // namespace ff::data
