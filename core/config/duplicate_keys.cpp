#include "core/config/duplicate_keys.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "kernels/common.h"

namespace ff::config {
namespace {

std::string join_key(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

class DuplicateKeyFinder : public YAML::EventHandler {
 public:
  explicit DuplicateKeyFinder(const std::string& source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  // A null key (`~: 1`) is not compared: no config key is null.
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node_done(mark, std::nullopt); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    if (anchor != YAML::NullAnchor) anchored_scalars_[anchor] = value;
    node_done(mark, value);
  }
  // An alias used as a key is the scalar it names (yaml-cpp's lookups compare it so too).
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchored_scalars_.find(anchor);
    node_done(mark, it == anchored_scalars_.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    open(mark, false);
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    open(mark, true);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }

 private:
  struct Collection {
    bool is_map = false;
    std::string path;   // of the collection itself: "" (the top), "train", "data.files[1]"
    YAML::Mark start;
    int64_t nodes = 0;  // list: items so far; mapping: keys and values so far (even: a key is next)
    std::string key;    // mapping: the current entry's key ("?" when it is not a scalar)
    std::map<std::string, int> key_lines;  // mapping: key -> line of its first use (from 1)
  };

  // The path of a node that starts now.
  std::string child_path() const {
    if (stack_.empty()) return "";
    const Collection& c = stack_.back();
    if (!c.is_map) return fmt::format("{}[{}]", c.path, c.nodes);
    return join_key(c.path, c.nodes % 2 == 0 ? "?" : c.key);
  }

  void open(const YAML::Mark& mark, bool is_map) {
    Collection c;
    c.is_map = is_map;
    c.path = child_path();
    c.start = mark;
    stack_.push_back(std::move(c));
  }

  void close() {
    const YAML::Mark start = stack_.back().start;
    stack_.pop_back();
    node_done(start, std::nullopt);
  }

  // A complete node: a key or a value of the enclosing mapping, or a list item. `scalar` is
  // its text when the node is a scalar.
  void node_done(const YAML::Mark& mark, const std::optional<std::string>& scalar) {
    if (stack_.empty()) return;
    Collection& c = stack_.back();
    const bool is_key = c.is_map && c.nodes % 2 == 0;
    ++c.nodes;
    if (!is_key) return;
    c.key = scalar.value_or("?");
    if (!scalar) return;
    const int line = mark.line + 1;
    const auto [first, inserted] = c.key_lines.emplace(*scalar, line);
    if (!inserted)
      throw UserError(fmt::format("{}: duplicate key '{}' at lines {} and {}", source_, join_key(c.path, *scalar),
                                  first->second, line));
  }

  const std::string& source_;
  std::vector<Collection> stack_;
  std::map<YAML::anchor_t, std::string> anchored_scalars_;
};

}  // namespace

void check_no_duplicate_keys(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DuplicateKeyFinder finder(source);
  parser.HandleNextDocument(finder);
}

}  // namespace ff::config
