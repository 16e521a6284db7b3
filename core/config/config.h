#pragma once
// Reading YAML configs into typed structs, with validation.
//
// A Document is one YAML file plus `--set a.b.c=value` overrides. Code reads it through
// Section views with typed getters; every getter
//   - checks the type (an int key holding "abc" or 1.5 is an error) and the range,
//   - records the key as known (present or not), so check_no_unknown_keys() can report a key
//     that nothing read, with the nearest known name as a suggestion,
//   - writes the value it returns (the file's, or the default) into the resolved config,
//     which is what runs and checkpoints save and --print-config prints.
// Every problem is an ff::UserError naming the source (file and line, or the --set
// argument; a key that only an override created is blamed on that --set), the key path and
// what was expected, e.g.
//   cfg.yaml line 12: 'train.optimizer.lr' must be > 0, got -1
//   unknown key 'train.lr_warmup' in cfg.yaml (line 7); did you mean 'train.scheduler.warmup_steps'?
//
// Usage (a parser per struct, called once; code below the config layer sees only structs):
//   auto doc = config::Document::from_file("cfg.yaml");
//   doc.apply_overrides({"train.max_steps=100"});
//   config::Section train = doc.root().section("train");
//   cfg.max_steps = train.get<int64_t>("max_steps", 1000, config::at_least(1));
//   cfg.optimizer = train.choice("optimizer", "adam", {"adam", "adamw", "sgd"});
//   ...
//   doc.check_no_unknown_keys();   // after every parser has run

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

namespace ff::config {

// An inclusive or exclusive interval for numeric values (each element of a list).
struct Bounds {
  std::optional<double> min, max;
  bool min_exclusive = false, max_exclusive = false;
};
inline Bounds at_least(double v) {
  Bounds b;
  b.min = v;
  return b;
}
inline Bounds greater_than(double v) {
  Bounds b = at_least(v);
  b.min_exclusive = true;
  return b;
}
inline Bounds at_most(double v) {
  Bounds b;
  b.max = v;
  return b;
}
inline Bounds between(double lo, double hi) {
  Bounds b = at_least(lo);
  b.max = hi;
  return b;
}
inline Bounds positive() { return greater_than(0.0); }
inline Bounds non_negative() { return at_least(0.0); }
// [0, 1) (probabilities such as dropout).
inline Bounds probability() {
  Bounds b = between(0.0, 1.0);
  b.max_exclusive = true;
  return b;
}

enum class PathKind { Any, ExistingFile, ExistingDir, Existing };

struct DocumentState;
class Document;

// A view on one mapping of the document ("" is the root, "train.optimizer" a nested one).
// A section that the file does not have reads as empty: every getter returns its default.
// Supported T: bool, int64_t, int, double, std::string, std::vector<int64_t>,
// std::vector<double>, std::vector<std::string>.
class Section {
 public:
  // The dotted path of key in this section ("train.max_steps").
  std::string path(std::string_view key) const;
  const std::string& path() const { return path_; }
  // True when the file (or an override) sets key to a non-null value.
  bool has(std::string_view key) const;

  // A nested mapping; an error if key holds something else.
  Section section(std::string_view key) const;

  template <typename T>
  T get(std::string_view key, const T& fallback, const Bounds& bounds = {}) const;
  // An error naming the key and its type when absent.
  template <typename T>
  T require(std::string_view key, const Bounds& bounds = {}) const;
  // nullopt when absent (the resolved config then holds null).
  template <typename T>
  std::optional<T> optional(std::string_view key, const Bounds& bounds = {}) const;

  // A string from a fixed set; the error lists the choices (and the nearest one).
  std::string choice(std::string_view key, const std::string& fallback, const std::vector<std::string>& choices) const;
  // A path, checked to exist when kind asks for it ("" when absent and fallback is "").
  std::filesystem::path file(std::string_view key, const std::string& fallback, PathKind kind) const;

  // Throws a UserError about key, attributed to its source: "<where>: '<path>' <message>".
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;

 private:
  friend class Document;
  Section(std::shared_ptr<DocumentState> state, std::string path) : state_(std::move(state)), path_(std::move(path)) {}
  std::shared_ptr<DocumentState> state_;
  std::string path_;
};

class Document {
 public:
  // ff::UserError naming the path when it does not exist, is a directory, cannot be read or
  // is empty (no YAML node: nothing, or only comments); then as from_string.
  static Document from_file(const std::filesystem::path& path);
  // `source` names the text in messages (a file name, "<string>"). ff::UserError when the text
  // is not valid YAML (with the line), its top level is not a mapping, or a mapping repeats a
  // key (with both lines, duplicate_keys.h). Empty text is an empty document.
  static Document from_string(const std::string& text, const std::string& source = "<string>");

  // "a.b.c=value": value is parsed as YAML ("3" an int, "1e-3" a float, "true" a bool,
  // "[1, 2]" a list, "abc" a string); sections along the path are created when missing.
  void apply_override(const std::string& assignment);
  void apply_overrides(const std::vector<std::string>& assignments);

  Section root() const;
  const std::string& source() const;

  // Throws for the first key in the document (in file order) that no getter or section() read.
  void check_no_unknown_keys() const;

  // Every key read so far, with the value used, in reading order.
  const nlohmann::ordered_json& resolved() const;
  std::string resolved_yaml() const;

 private:
  explicit Document(std::shared_ptr<DocumentState> state) : state_(std::move(state)) {}
  std::shared_ptr<DocumentState> state_;
};

// YAML text for a JSON tree of maps, lists and scalars (block style, lists of scalars in flow
// style, strings quoted where YAML would read them as something else); Document::from_string
// reads it back to the same values.
std::string to_yaml(const nlohmann::ordered_json& value);

// Edit distance (insertions, deletions, substitutions, transpositions).
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `name`: a near spelling, or else the one sharing the most
// '_'-separated words with it; "" when none is close. Candidates are dotted paths; the last
// component is compared, and ties prefer a candidate in the same section as `name`.
std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates);

// Expands ${NAME} and ${NAME:-default} (the default may itself hold ${...}) from the
// environment, for path values such as data.path; ff::UserError for an unterminated ${.
std::string expand_env(const std::string& text);

}  // namespace ff::config
