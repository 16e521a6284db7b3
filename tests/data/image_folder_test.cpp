// ImageFolder (data/image/image_folder.h): torchvision's order and labels, the file-list
// cache (hits, invalidation, corruption, where it goes) and the errors for a bad layout.

#include "data/image/image_folder.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/user_cache.h"
#include "kernels/common.h"
#include "support/user_error.h"
#include "temp_dir.h"

using namespace ff::data;
using ff::testing::user_error_of;
using ff::data::testing::quoted;
using ff::data::testing::read_file;
using ff::data::testing::TempDir;
using ff::data::testing::write_file;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

namespace {

// Files named by paths relative to `root`, each holding its own name.
void make_files(const fs::path& root, const Names& relative_paths) {
  for (const std::string& p : relative_paths) {
    fs::create_directories((root / p).parent_path());
    write_file(root / p, fs::path(p).filename().string());
  }
}

// Moves the mtime of every directory under `dir` a minute into the past: an image folder
// changed less than 2 s ago is listed but not cached, and these folders were just written.
void settle(const fs::path& dir) {
  const auto past = fs::file_time_type::clock::now() - std::chrono::seconds(60);
  fs::last_write_time(dir, past);
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_directory()) fs::last_write_time(e.path(), past);
}

// "<class>/<file> <label>" for every sample, in index order.
Names samples(const ImageFolder& f) {
  Names out;
  for (int64_t i = 0; i < f.size(); ++i)
    out.push_back(fs::relative(f.path(i), f.directory()).string() + " " + std::to_string(f.label(i)));
  return out;
}

// A small ImageNet-like split: root/train/{n01, n02}/...
void make_split(const TempDir& root) {
  make_files(root.path(), {"train/n02/n02_1.JPEG", "train/n01/n01_2.JPEG", "train/n01/n01_10.JPEG",
                           "train/n01/n01_1.JPEG"});
  settle(root.path());
}

fs::path cache_of(const TempDir& root) { return root / "train" / ImageFolder::kCacheFileName; }

// cache_miss_reason when the cache in the split directory failed for `reason`: the per-user
// location is tried next, and holds nothing.
std::string miss(const TempDir& root, const std::string& reason) {
  return cache_of(root).string() + ": " + reason + "; " + ff::io::user_cache_file("image-folders", root / "train").string() +
         ": no cache file";
}

}  // namespace

TEST_CASE("image folder: classes and files sorted by name, labels are class indices, as torchvision", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"train/n02/b.jpg", "train/n01/z.jpg", "train/n01/a.JPEG", "train/n01/Z.jpg",
                           "train/n01/m.png", "train/n01/notes.txt", "train/n01/.hidden.jpg", "train/b9/x.jpeg",
                           "train/b10/x.webp", "train/B/x.TIFF", "train/.git/y.jpg", "train/README.md"});
  const ImageFolder f = ImageFolder::open(root.path(), "train");
  // Bytes order: upper case before lower case, "b10" before "b9".
  CHECK(f.classes() == Names{"B", "b10", "b9", "n01", "n02"});
  CHECK(samples(f) == Names{"B/x.TIFF 0", "b10/x.webp 1", "b9/x.jpeg 2", "n01/Z.jpg 3", "n01/a.JPEG 3",
                            "n01/m.png 3", "n01/z.jpg 3", "n02/b.jpg 4"});
  CHECK(f.size() == 8);
  CHECK(f.skipped_files() == 1);  // notes.txt; hidden entries are not looked at
  CHECK(f.directory() == root / "train");
  CHECK(f.path(5) == root / "train" / "n01" / "m.png");
  const std::vector<uint8_t> bytes = f.read(5);
  CHECK(std::string(bytes.begin(), bytes.end()) == "m.png");
  CHECK_THROWS_AS(f.label(8), ff::Error);
}

TEST_CASE("image folder: the second open reads the file list from the cache", "[data][image_folder]") {
  TempDir root;
  make_split(root);
  const ImageFolder first = ImageFolder::open(root.path(), "train");
  CHECK_FALSE(first.open_info().from_cache);
  CHECK(first.open_info().cache_miss_reason == miss(root, "no cache file"));
  CHECK(first.open_info().cache_written);
  CHECK(first.open_info().cache_path == cache_of(root));
  CHECK(fs::exists(cache_of(root)));

  const ImageFolder second = ImageFolder::open(root.path(), "train");
  CHECK(second.open_info().from_cache);
  CHECK_FALSE(second.open_info().cache_written);
  CHECK(second.open_info().cache_path == cache_of(root));
  CHECK(samples(second) == samples(first));
  CHECK(samples(second) == Names{"n01/n01_1.JPEG 0", "n01/n01_10.JPEG 0", "n01/n01_2.JPEG 0", "n02/n02_1.JPEG 1"});
  CHECK(second.classes() == Names{"n01", "n02"});
}

TEST_CASE("image folder: adding or removing a file invalidates the cache", "[data][image_folder]") {
  TempDir root;
  make_split(root);
  ImageFolder::open(root.path(), "train");
  make_files(root.path(), {"train/n02/n02_0.JPEG"});
  ImageFolder f = ImageFolder::open(root.path(), "train");
  CHECK_FALSE(f.open_info().from_cache);
  CHECK(f.open_info().cache_miss_reason ==
        miss(root, "class directory 'n02' changed (an entry was added, removed or renamed)"));
  CHECK(samples(f).back() == "n02/n02_1.JPEG 1");
  CHECK(f.size() == 5);

  settle(root.path());
  CHECK(ImageFolder::open(root.path(), "train").open_info().cache_written);
  CHECK(ImageFolder::open(root.path(), "train").open_info().from_cache);
  fs::remove(root / "train" / "n01" / "n01_10.JPEG");
  f = ImageFolder::open(root.path(), "train");
  CHECK_FALSE(f.open_info().from_cache);
  CHECK(f.size() == 4);
  CHECK(samples(f).front() == "n01/n01_1.JPEG 0");
}

TEST_CASE("image folder: adding or removing a class invalidates the cache", "[data][image_folder]") {
  TempDir root;
  make_split(root);
  ImageFolder::open(root.path(), "train");
  make_files(root.path(), {"train/n00/n00_1.JPEG"});
  settle(root.path());
  ImageFolder f = ImageFolder::open(root.path(), "train");
  CHECK(f.open_info().cache_miss_reason == miss(root, "class directory 'n00' is new"));
  CHECK(f.classes() == Names{"n00", "n01", "n02"});
  CHECK(f.label(0) == 0);
  CHECK(f.label(4) == 2);

  fs::remove_all(root / "train" / "n01");
  f = ImageFolder::open(root.path(), "train");
  CHECK(f.open_info().cache_miss_reason == miss(root, "class directory 'n01' is gone"));
  CHECK(samples(f) == Names{"n00/n00_1.JPEG 0", "n02/n02_1.JPEG 1"});
}

TEST_CASE("image folder: a folder changed in the last 2 seconds is listed but not cached", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"train/a/1.jpg", "train/b/1.jpg"});
  settle(root / "train" / "a");
  const ImageFolder f = ImageFolder::open(root.path(), "train");
  CHECK(f.size() == 2);
  CHECK_FALSE(f.open_info().cache_written);
  CHECK(f.open_info().cache_not_written == quoted(root / "train" / "b") +
                                               " changed less than 2 s ago; the listing is cached once the folder "
                                               "has settled");
  CHECK_FALSE(fs::exists(cache_of(root)));
  settle(root.path());
  CHECK(ImageFolder::open(root.path(), "train").open_info().cache_written);
}

TEST_CASE("image folder: a corrupt cache is rebuilt, naming what is wrong", "[data][image_folder]") {
  TempDir root;
  make_split(root);
  ImageFolder::open(root.path(), "train");
  const std::string good = read_file(cache_of(root));

  struct Case {
    std::string bytes, reason;
  };
  std::string flipped = good;
  flipped[good.size() - 20] ^= 0x01;
  std::string magic = good;
  magic[0] = 'X';
  std::string version = good;
  version[8] = 9;
  const std::vector<Case> cases = {
      {flipped, "payload checksum mismatch"},
      {good.substr(0, good.size() - 3),
       fmt::format("{} payload bytes, the header says {} (truncated?)", good.size() - 35, good.size() - 32)},
      {good.substr(0, 10), "10 bytes, shorter than the header"},
      {magic, "wrong magic (not a FourierFormer file-list cache)"},
      {version, "format version 9, expected 1"},
  };
  for (const Case& c : cases) {
    INFO(c.reason);
    write_file(cache_of(root), c.bytes);
    const ImageFolder f = ImageFolder::open(root.path(), "train");
    CHECK_FALSE(f.open_info().from_cache);
    CHECK(f.open_info().cache_miss_reason == miss(root, c.reason));
    CHECK(f.open_info().cache_written);
    CHECK(f.size() == 4);
    CHECK(read_file(cache_of(root)) == good);
  }
  CHECK(ImageFolder::open(root.path(), "train").open_info().from_cache);
}

TEST_CASE("image folder: the cache goes to the per-user cache directory when the split cannot hold it", "[data][image_folder]") {
  TempDir root, user_cache;
  make_split(root);
  // A directory where the cache file would go makes that location unusable, even for root.
  fs::create_directories(cache_of(root));
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", user_cache.path().c_str(), 1);
  const ImageFolder first = ImageFolder::open(root.path(), "train");
  const ImageFolder second = ImageFolder::open(root.path(), "train");
  old ? ::setenv("XDG_CACHE_HOME", saved.c_str(), 1) : ::unsetenv("XDG_CACHE_HOME");

  const fs::path dir = user_cache / "fourierformer" / "image-folders";
  CHECK(first.open_info().cache_written);
  REQUIRE(first.open_info().cache_path.parent_path() == dir);
  CHECK(first.open_info().cache_path.filename().string().size() == 16 + 4);  // <16 hex digits>.bin
  CHECK(second.open_info().from_cache);
  CHECK(second.open_info().cache_path == first.open_info().cache_path);
  CHECK(samples(second) == samples(first));
}

TEST_CASE("image folder: with use_cache off no cache is read or written", "[data][image_folder]") {
  TempDir root;
  make_split(root);
  ImageFolderOptions options;
  options.use_cache = false;
  const ImageFolder f = ImageFolder::open(root.path(), "train", options);
  CHECK(f.size() == 4);
  CHECK(f.open_info().cache_miss_reason == "the cache is off");
  CHECK_FALSE(f.open_info().cache_written);
  CHECK_FALSE(fs::exists(cache_of(root)));
}

TEST_CASE("image folder: a missing root or split directory is named", "[data][image_folder]") {
  TempDir root;
  CHECK(user_error_of([&] { ImageFolder::open(root / "nope", "train"); }) ==
        "image folder '" + (root / "nope").string() + "' does not exist or is not a directory");
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "val"); }) ==
        "image folder '" + root.path().string() + "' has no split directory 'val'; expected " +
            (root / "val").string() + "/<class>/<image files>");
}

TEST_CASE("image folder: a split without class directories is refused, with a hint for a flat val", "[data][image_folder]") {
  TempDir root;
  fs::create_directories(root / "train");
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "train"); }) ==
        quoted(root / "train") + " has no class directories; expected " + (root / "train").string() +
            "/<class>/<image files>");
  make_files(root.path(), {"val/ILSVRC2012_val_00000002.JPEG", "val/ILSVRC2012_val_00000001.JPEG"});
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "val"); }) ==
        quoted(root / "val") +
            " holds 2 image files (e.g. 'ILSVRC2012_val_00000001.JPEG') but no class directories; expected " +
            (root / "val").string() +
            "/<class>/<image files>: sort the images into one directory per class (ImageNet's validation set: "
            "docs/imagenet.md)");
}

TEST_CASE("image folder: images beside the class directories are refused", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"val/n01/a.JPEG", "val/b.JPEG"});
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "val"); }) ==
        quoted(root / "val") + " holds 1 image file(s) beside its class directories (e.g. 'b.JPEG'); "
            "expected every image inside " + (root / "val").string() + "/<class>/<image files>");
}

TEST_CASE("image folder: a class directory without images is named", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"train/n01/a.JPEG", "train/n02/list.txt"});
  fs::create_directories(root / "train" / "n03");
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "train"); }) ==
        "class directory '" + (root / "train" / "n02").string() +
            "' has no image files; expected files ending in .jpg, .jpeg, .png, .ppm, .bmp, .pgm, .tif, .tiff, .webp");
  fs::remove(root / "train" / "n02" / "list.txt");
  fs::remove(root / "train" / "n02");
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "train"); }).starts_with(
      "class directory '" + (root / "train" / "n03").string() + "' has no image files"));
}

TEST_CASE("image folder: a directory inside a class directory is refused", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"train/n01/a.JPEG", "train/n01/more/b.JPEG"});
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "train"); }) ==
        quoted(root / "train" / "n01" / "more") + " is a directory inside the class directory " +
            quoted(root / "train" / "n01") + "; expected image files only (move its images into the class directory)");
}

TEST_CASE("image folder: a split must have the reference split's classes", "[data][image_folder]") {
  TempDir root;
  make_files(root.path(), {"train/n01/a.JPEG", "train/n02/a.JPEG", "train/n03/a.JPEG", "val/n01/a.JPEG",
                           "val/n03/a.JPEG", "val2/n01/a.JPEG", "val2/n02/a.JPEG", "val2/n03/a.JPEG",
                           "val2/n04/a.JPEG"});
  const ImageFolder train = ImageFolder::open(root.path(), "train");
  ImageFolderOptions options;
  options.classes = train.classes();
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "val", options); }) ==
        quoted(root / "val") + " has no class directory 'n02'; expected the 3 classes of the reference split");
  CHECK(user_error_of([&] { ImageFolder::open(root.path(), "val2", options); }) ==
        quoted(root / "val2") + " has the class directory 'n04', which the reference split's 3 classes lack");
  fs::remove_all(root / "val2" / "n04");
  CHECK(ImageFolder::open(root.path(), "val2", options).classes() == train.classes());
}
