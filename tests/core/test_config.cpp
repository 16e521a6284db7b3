// The YAML config layer: typed getters, ranges, overrides, unknown keys with suggestions,
// duplicate keys, unusable config files, the resolved config and its YAML round trip.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "core/config/config.h"
#include "data/temp_dir.h"
#include "kernels/common.h"

using namespace ff;
using ff::config::Document;

namespace {

// The message of the UserError fn throws ("" if it throws nothing).
template <typename Fn>
std::string user_error(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

const char* kConfig = R"(
seed: 1111
train:
  max_steps: 1e5
  clip_grad_norm: 0.25
  optimizer:
    name: adam
    lr: 2.5e-4
    betas: [0.9, 0.98]
  scheduler:
    warmup_steps: 2000
data:
  path: "corpus"
  cutoffs: [20000, 40000]
  lower: no
)";

}  // namespace

TEST_CASE("Config getters read typed values and fill in defaults", "[config]") {
  Document doc = Document::from_string(kConfig, "cfg.yaml");
  auto root = doc.root();
  CHECK(root.get<int64_t>("seed", 0) == 1111);
  auto train = root.section("train");
  CHECK(train.get<int64_t>("max_steps", 1) == 100000);  // 1e5 is an integer
  CHECK(train.get<double>("clip_grad_norm", 0.0) == 0.25);
  CHECK(train.get<int>("grad_accum", 1, config::at_least(1)) == 1);
  auto opt = train.section("optimizer");
  CHECK(opt.choice("name", "adamw", {"adam", "adamw", "sgd"}) == "adam");
  CHECK(opt.get<double>("lr", 1.0) == 2.5e-4);
  CHECK(opt.get<std::vector<double>>("betas", {0.9, 0.999}) == std::vector<double>{0.9, 0.98});
  CHECK(opt.get<double>("eps", 1e-8) == 1e-8);
  CHECK(train.section("scheduler").get<int64_t>("warmup_steps", 0) == 2000);
  auto data = root.section("data");
  CHECK(data.require<std::string>("path") == "corpus");
  CHECK(data.get<std::vector<int64_t>>("cutoffs", {}) == std::vector<int64_t>{20000, 40000});
  CHECK(data.get<bool>("lower", true) == false);
  CHECK_FALSE(data.optional<int64_t>("limit").has_value());
  CHECK(root.section("absent").get<int64_t>("x", 7) == 7);
  CHECK_NOTHROW(doc.check_no_unknown_keys());

  const auto& r = doc.resolved();
  CHECK(r["train"]["grad_accum"] == 1);
  CHECK(r["train"]["optimizer"]["eps"] == 1e-8);
  CHECK(r["train"]["max_steps"] == 100000);
  CHECK(r["data"]["limit"].is_null());
  CHECK(r["absent"]["x"] == 7);
}

TEST_CASE("Config type errors name the file, line, key and expected type", "[config]") {
  Document doc = Document::from_string("train:\n  max_steps: abc\n  lr: 1e-3\n  steps: 1.5\n  name: [a]\n", "cfg.yaml");
  auto train = doc.root().section("train");
  CHECK(user_error([&] { train.get<int64_t>("max_steps", 1); }) ==
        "cfg.yaml line 2: 'train.max_steps' must be an integer, got 'abc'");
  CHECK(user_error([&] { train.get<int64_t>("steps", 1); }) ==
        "cfg.yaml line 4: 'train.steps' must be an integer, got '1.5'");
  CHECK(user_error([&] { train.get<std::string>("name", ""); }) ==
        "cfg.yaml line 5: 'train.name' must be a string, got a list");
  CHECK(user_error([&] { train.get<bool>("lr", false); }) ==
        "cfg.yaml line 3: 'train.lr' must be true or false, got '1e-3'");
  CHECK(user_error([&] { doc.root().section("train").section("lr"); }) ==
        "cfg.yaml line 3: 'train.lr' must be a section (a mapping of keys), got '1e-3'");
  Document quoted = Document::from_string("lr: \"0.1\"\n", "q.yaml");
  CHECK(user_error([&] { quoted.root().get<double>("lr", 1.0); }) ==
        "q.yaml line 1: 'lr' must be a number, got the quoted string '0.1'");
  CHECK(quoted.root().get<std::string>("lr", "") == "0.1");
}

TEST_CASE("Config range checks, choices and required keys", "[config]") {
  Document doc = Document::from_string("lr: -1\np: 1.0\nname: adan\nsizes: [4, 0]\nn: 3000000000\n", "cfg.yaml");
  auto root = doc.root();
  CHECK(user_error([&] { root.get<double>("lr", 1.0, config::positive()); }) ==
        "cfg.yaml line 1: 'lr' must be > 0, got '-1'");
  CHECK(user_error([&] { root.get<double>("p", 0.0, config::probability()); }) ==
        "cfg.yaml line 2: 'p' must be in [0, 1), got '1.0'");
  CHECK(user_error([&] {
          root.choice("name", "adam", {"adam", "adamw", "sgd"});
        }) == "cfg.yaml line 3: 'name' must be one of adam, adamw, sgd, got 'adan'; did you mean 'adam'?");
  CHECK(user_error([&] { root.get<std::vector<int64_t>>("sizes", {}, config::at_least(1)); }) ==
        "cfg.yaml line 4: 'sizes' must be >= 1, got a list");
  CHECK(user_error([&] { root.get<int>("n", 0); }).find("'n' must be in [") != std::string::npos);
  CHECK(root.get<int64_t>("n", 0) == 3000000000LL);
  CHECK(user_error([&] { root.section("data").require<std::string>("path"); }) ==
        "cfg.yaml: missing required key 'data.path' (a string)");
  Document nan = Document::from_string("x: .nan\ny: .inf\n");
  CHECK(user_error([&] { nan.root().get<double>("x", 0.0, config::non_negative()); }) != "");
  CHECK(std::isinf(nan.root().get<double>("y", 0.0)));
}

TEST_CASE("Config reports the first unknown key with the nearest valid name", "[config]") {
  auto parse = [](Document& doc) {
    auto train = doc.root().section("train");
    train.get<int64_t>("max_steps", 1);
    auto sched = train.section("scheduler");
    sched.get<int64_t>("warmup_steps", 0);
    sched.get<double>("min_lr", 0.0);
    train.section("optimizer").get<double>("lr", 1e-3);
    doc.root().get<int64_t>("seed", 0);
  };
  {
    Document doc = Document::from_string("seed: 1\ntrain:\n  max_steps: 10\n  lr_warmup: 100\n", "cfg.yaml");
    parse(doc);
    CHECK(user_error([&] { doc.check_no_unknown_keys(); }) ==
          "unknown key 'train.lr_warmup' in cfg.yaml (line 4); did you mean 'train.scheduler.warmup_steps'?");
  }
  {
    Document doc = Document::from_string("train:\n  max_step: 10\n", "cfg.yaml");
    parse(doc);
    CHECK(user_error([&] { doc.check_no_unknown_keys(); }) ==
          "unknown key 'train.max_step' in cfg.yaml (line 2); did you mean 'train.max_steps'?");
  }
  {
    Document doc = Document::from_string("train:\n  lr: 0.1\n", "cfg.yaml");  // in the wrong section
    parse(doc);
    CHECK(user_error([&] { doc.check_no_unknown_keys(); }) ==
          "unknown key 'train.lr' in cfg.yaml (line 2); did you mean 'train.optimizer.lr'?");
  }
  {
    Document doc = Document::from_string("model:\n  d_model: 4\n", "cfg.yaml");  // a whole unknown section
    parse(doc);
    CHECK(user_error([&] { doc.check_no_unknown_keys(); }) == "unknown key 'model' in cfg.yaml (line 1)");
  }
  {
    Document doc = Document::from_string("seed: 1\n", "cfg.yaml");
    doc.apply_override("train.optimizer.betas=[0.9, 0.99]");
    parse(doc);
    CHECK(user_error([&] { doc.check_no_unknown_keys(); }) ==
          "unknown key 'train.optimizer.betas' (from --set train.optimizer.betas=[0.9, 0.99])");
  }
}

TEST_CASE("Config blames an unknown key that --set created on the --set argument", "[config]") {
  // The error of check_no_unknown_keys for `text` with one override, after the usual reads.
  auto unknown_key = [](const std::string& text, const std::string& assignment) {
    Document doc = Document::from_string(text, "cfg.yaml");
    doc.apply_override(assignment);
    auto train = doc.root().section("train");
    train.get<int64_t>("max_steps", 1);
    train.section("optimizer").get<double>("lr", 1e-3);
    return user_error([&] { doc.check_no_unknown_keys(); });
  };
  // The override had to create the section 'trian' (or 'train.optimzer'): the message names
  // the whole key typed.
  CHECK(unknown_key("train:\n  max_steps: 10\n", "trian.max_steps=3") ==
        "unknown key 'trian.max_steps' (from --set trian.max_steps=3); did you mean 'train.max_steps'?");
  CHECK(unknown_key("train:\n  max_steps: 10\n", "train.optimzer.lr=0.1") ==
        "unknown key 'train.optimzer.lr' (from --set train.optimzer.lr=0.1); did you mean 'train.optimizer.lr'?");
  // The file has the misspelt section too: it is the file's mistake.
  CHECK(unknown_key("trian:\n  seed: 1\n", "trian.max_steps=3") ==
        "unknown key 'trian' in cfg.yaml (line 1); did you mean 'train'?");
}

TEST_CASE("Config refuses a key given twice in one mapping, with both lines", "[config]") {
  auto error = [](const std::string& text) { return user_error([&] { Document::from_string(text, "cfg.yaml"); }); };
  CHECK(error("seed: 1\ntrain:\n  max_steps: 2\nseed: 3\n") == "cfg.yaml: duplicate key 'seed' at lines 1 and 4");
  CHECK(error("train:\n  max_steps: 1\ndata:\n  path: x\ntrain:\n  clip_grad_norm: 2\n") ==
        "cfg.yaml: duplicate key 'train' at lines 1 and 5");
  CHECK(error("seed: 1\ntrain:\n  clip_grad_norm: 1\n  max_steps: 5\n  optimizer:\n    lr: 1\n  scheduler:\n"
              "    warmup_steps: 3\n  max_steps: 9\n") == "cfg.yaml: duplicate key 'train.max_steps' at lines 4 and 9");
  CHECK(error("train:\n  optimizer:\n    lr: 1\n    betas: [0.9, 0.98]\n    lr: 2\n") ==
        "cfg.yaml: duplicate key 'train.optimizer.lr' at lines 3 and 5");
  CHECK(error("data:\n  files:\n    - name: a\n      size: 1\n    - name: b\n      name: c\n") ==
        "cfg.yaml: duplicate key 'data.files[1].name' at lines 5 and 6");
  CHECK(error("train: {max_steps: 1, max_steps: 2}\n") == "cfg.yaml: duplicate key 'train.max_steps' at lines 1 and 1");
  CHECK(error("'seed': 1\nseed: 2\n") == "cfg.yaml: duplicate key 'seed' at lines 1 and 2");  // the same key
  CHECK(error("name: &k seed\n*k : 1\nseed: 2\n") == "cfg.yaml: duplicate key 'seed' at lines 2 and 3");

  // The same name in different mappings is no duplicate; an alias is not expanded (this one
  // refers to its own ancestor).
  CHECK(error("a:\n  x: 1\nb:\n  x: 2\nlist:\n  - x: 1\n  - x: 2\n") == "");
  CHECK(error("a: &loop\n  b: *loop\nc: *loop\n") == "");

  data::testing::TempDir dir;
  data::testing::write_file(dir / "twice.yaml", "seed: 1\nseed: 2\n");
  CHECK(user_error([&] { Document::from_file(dir / "twice.yaml"); }) ==
        (dir / "twice.yaml").string() + ": duplicate key 'seed' at lines 1 and 2");
}

TEST_CASE("Config --set overrides use YAML scalar typing and create sections", "[config]") {
  Document doc = Document::from_string(kConfig, "cfg.yaml");
  doc.apply_overrides({"train.max_steps=100", "train.optimizer.lr=1e-3", "data.cutoffs=[1, 2, 3]",
                       "train.scheduler.name=cosine", "new.section.flag=true", "data.path=other dir"});
  auto root = doc.root();
  CHECK(root.section("train").get<int64_t>("max_steps", 1) == 100);
  CHECK(root.section("train").section("optimizer").get<double>("lr", 1.0) == 1e-3);
  CHECK(root.section("data").get<std::vector<int64_t>>("cutoffs", {}) == std::vector<int64_t>{1, 2, 3});
  CHECK(root.section("train").section("scheduler").get<std::string>("name", "") == "cosine");
  CHECK(root.section("new").section("section").get<bool>("flag", false));
  CHECK(root.section("data").get<std::string>("path", "") == "other dir");

  doc.apply_override("train.max_steps=ten");
  CHECK(user_error([&] { doc.root().section("train").get<int64_t>("max_steps", 1); }) ==
        "--set train.max_steps=ten: 'train.max_steps' must be an integer, got 'ten'");
  CHECK(user_error([&] { doc.apply_override("train.max_steps"); }).find("expected key=value") != std::string::npos);
  CHECK(user_error([&] { doc.apply_override("train..x=1"); }).find("is not a key path") != std::string::npos);
  CHECK(user_error([&] { doc.apply_override("seed.x=1"); }) ==
        "--set seed.x=1: 'seed' holds a value, not a section of keys");
  CHECK(user_error([&] { doc.apply_override("seed="); }) == "--set seed=: missing value after '='");
}

TEST_CASE("Config files: missing, a directory, unreadable, empty", "[config]") {
  data::testing::TempDir dir;
  const std::string nope = (dir / "nope.yaml").string();
  CHECK(user_error([&] { Document::from_file(nope); }) ==
        "config file '" + nope + "' does not exist; expected a YAML file");
  CHECK(user_error([&] { Document::from_file(dir.path()); }) ==
        "config file '" + dir.path().string() + "' is a directory; expected a YAML file");
  // A read error: /proc/self/mem opens but reading its first page (never mapped) fails, also
  // for root, whom file permissions do not stop.
  CHECK(user_error([&] { Document::from_file("/proc/self/mem"); }) ==
        "config file: cannot read '/proc/self/mem': Input/output error; expected a readable YAML file");
  if (::geteuid() != 0) {
    data::testing::write_file(dir / "secret.yaml", "seed: 1\n");
    std::filesystem::permissions(dir / "secret.yaml", std::filesystem::perms::none);
    CHECK(user_error([&] { Document::from_file(dir / "secret.yaml"); }) ==
          "config file: cannot open '" + (dir / "secret.yaml").string() +
              "': Permission denied; expected a readable YAML file");
  }
  for (const char* text : {"", "\n\n", "# only a comment\n", "---\n"}) {
    INFO("'" << text << "'");
    data::testing::write_file(dir / "empty.yaml", text);
    CHECK(user_error([&] { Document::from_file(dir / "empty.yaml"); }) ==
          "config file '" + (dir / "empty.yaml").string() + "' is empty; expected a YAML file with a mapping of keys");
  }
  data::testing::write_file(dir / "ok.yaml", "seed: 7\n");
  CHECK(Document::from_file(dir / "ok.yaml").root().get<int64_t>("seed", 0) == 7);
}

TEST_CASE("Config files: invalid YAML, non-mapping, missing data paths", "[config]") {
  data::testing::TempDir dir;
  data::testing::write_file(dir / "bad.yaml", "a: [1, 2\nb: 3\n");
  CHECK(user_error([&] { Document::from_file(dir / "bad.yaml"); }).find("invalid YAML") != std::string::npos);
  CHECK(user_error([&] { Document::from_string("- 1\n- 2\n", "list.yaml"); }) ==
        "list.yaml: expected a mapping of keys at the top level, got a list");
  CHECK_NOTHROW(Document::from_string("", "empty.yaml").check_no_unknown_keys());

  data::testing::write_file(dir / "train.txt", "a b c\n");
  const std::string text = "data:\n  dir: " + dir.path().string() + "\n  file: " + (dir / "train.txt").string() +
                           "\n  missing: " + (dir / "nothing").string() + "\n";
  Document doc = Document::from_string(text, "cfg.yaml");
  auto data = doc.root().section("data");
  CHECK(data.file("dir", "", config::PathKind::ExistingDir) == dir.path());
  CHECK(data.file("file", "", config::PathKind::ExistingFile) == dir / "train.txt");
  CHECK(user_error([&] { data.file("file", "", config::PathKind::ExistingDir); }).find("must name a directory") !=
        std::string::npos);
  CHECK(user_error([&] { data.file("missing", "", config::PathKind::ExistingFile); }) ==
        "cfg.yaml line 4: 'data.missing' names the file '" + (dir / "nothing").string() + "', which does not exist");
  CHECK(data.file("optional", "", config::PathKind::ExistingFile).empty());
}

TEST_CASE("The resolved config is YAML that reads back to the same values", "[config]") {
  Document doc = Document::from_string(kConfig, "cfg.yaml");
  doc.apply_override("name=\"123\"");
  auto root = doc.root();
  root.get<int64_t>("seed", 0);
  root.get<std::string>("name", "");
  root.get<std::string>("note", "yes");
  root.get<std::string>("tricky", "a: b # c");
  root.get<std::string>("empty", "");
  root.get<double>("whole", 2.0);
  root.get<double>("tiny", 1e-300);
  auto train = root.section("train");
  train.get<int64_t>("max_steps", 1);
  train.section("optimizer").get<std::vector<double>>("betas", {});
  train.section("optimizer").get<double>("lr", 0.0);
  train.get<std::vector<std::string>>("skip", {"pos_embed", "cls token"});
  root.section("data").get<bool>("lower", true);

  const std::string yaml = doc.resolved_yaml();
  INFO(yaml);
  CHECK(yaml.find("seed: 1111\n") == 0);
  CHECK(yaml.find("name: \"123\"") != std::string::npos);
  CHECK(yaml.find("whole: 2.0") != std::string::npos);
  CHECK(yaml.find("  max_steps: 100000\n") != std::string::npos);

  Document again = Document::from_string(yaml, "resolved.yaml");
  auto r = again.root();
  CHECK(r.get<std::string>("name", "") == "123");
  CHECK(r.get<std::string>("note", "") == "yes");
  CHECK(r.get<std::string>("tricky", "") == "a: b # c");
  CHECK(r.get<std::string>("empty", "x") == "");
  CHECK(r.get<double>("whole", 0.0) == 2.0);
  CHECK(r.get<double>("tiny", 0.0) == 1e-300);
  CHECK(r.section("train").section("optimizer").get<double>("lr", 0.0) == 2.5e-4);
  CHECK(r.section("train").get<std::vector<std::string>>("skip", {}) ==
        std::vector<std::string>{"pos_embed", "cls token"});
}

TEST_CASE("edit_distance and nearest_name", "[config]") {
  CHECK(config::edit_distance("", "abc") == 3);
  CHECK(config::edit_distance("kitten", "sitting") == 3);
  CHECK(config::edit_distance("warmpu", "warmup") == 1);  // a transposition is one edit
  CHECK(config::nearest_name("a.lrr", {"a.lr", "a.eps"}) == "a.lr");
  CHECK(config::nearest_name("a.zzz", {"a.lr", "a.eps"}) == "");
  CHECK(config::nearest_name("a.lr", {"b.lr", "a.lr2"}) == "b.lr");  // exact leaf in another section
  CHECK(config::nearest_name("a.lr", {"b.lr", "a.lr"}) == "a.lr");
  CHECK(config::nearest_name("t.lr_warmpu", {"t.o.lr", "t.s.warmup_steps"}) == "t.s.warmup_steps");
}
