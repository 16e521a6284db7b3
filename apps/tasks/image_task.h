#pragma once
// The image-classification task (`task: image`): joins the image data (data/image: ImageFolder
// or IDX files, DeiT's transforms, the loader) and the Vision Transformer (models/vit) for the
// generic trainer.
//
// Config sections it reads (every key in docs/configs.md, "Image classification"):
//   data:  format (imagefolder | idx), path, batch_size, workers, prefetch, skip_unreadable,
//          scaled_decode, repeated_aug, repeats, valid_size (idx), label_smoothing,
//          train_transform.{...}, eval_transform.{...}, mixup.{...}
//   model: image_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias, dropout,
//          drop_path, init_std, attention.* (apps/tasks/attention_config.h)
//          (in_chans and num_classes come from the data)
//   eval:  batch_size, head_diversity_segments (images)
//
// Splits: ImageFolder train and val; IDX train, valid (the last valid_size images of the train
// file, held out) and test (the t10k files). Each epoch's samples come from the repeated-
// augmentation sampler (or a plain shuffle) keyed by (seed, epoch), every sample's augmentation
// from its own Philox stream and every batch's mixup from the batch's, so the data state in
// checkpoints is (epoch, batch) and resuming is exact for any number of workers.

#include "core/train/task.h"

namespace ff::apps {

// The `task: image` entry of the registry (apps/tasks/registry.h).
train::TaskFactory image_task_factory();

}  // namespace ff::apps
