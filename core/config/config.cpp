#include "core/config/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/config/duplicate_keys.h"
#include "core/io/atomic_file.h"
#include "kernels/common.h"

namespace ff::config {

struct DocumentState {
  YAML::Node root;
  std::string source;
  bool empty = false;  // the text held no YAML node (nothing, or only comments)
  std::map<std::string, std::string> overrides;  // key path -> the --set argument
  std::set<std::string> known_leaves, known_sections;
  nlohmann::ordered_json resolved = nlohmann::ordered_json::object();
};

namespace {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string join_path(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

// The node at a dotted path; an undefined node when any part is missing or not a mapping.
YAML::Node lookup(const YAML::Node& root, const std::string& path) {
  YAML::Node cur;
  cur.reset(root);
  if (path.empty()) return cur;
  for (const std::string& part : split(path, '.')) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& c = cur;
    YAML::Node next = c[part];
    if (!next.IsDefined()) return next;
    cur.reset(next);
  }
  return cur;
}

// Where a key's value comes from, for messages: "--set a.b=1", "cfg.yaml line 12", "cfg.yaml".
std::string where(const DocumentState& s, const std::string& path, const YAML::Node& node) {
  for (const auto& [p, arg] : s.overrides)
    if (path == p || path.starts_with(p + ".")) return "--set " + arg;
  if (node.IsDefined() && node.Mark().line >= 0) return fmt::format("{} line {}", s.source, node.Mark().line + 1);
  return s.source;
}

// The override (key path, argument) that created the mapping key at `path`: a key the file
// does not have (no position) on the way to an override's key. nullopt for a key of the file.
std::optional<std::pair<std::string, std::string>> override_that_created(const DocumentState& s,
                                                                          const std::string& path,
                                                                          const YAML::Node& key) {
  if (key.Mark().line >= 0) return std::nullopt;
  for (const auto& [p, arg] : s.overrides)
    if (p.starts_with(path + ".")) return std::make_pair(p, arg);
  return std::nullopt;
}

std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  return "'" + node.Scalar() + "'";
}

std::string describe_bounds(const Bounds& b) {
  auto num = [](double v) { return fmt::format("{}", v); };
  if (b.min && b.max)
    return fmt::format("in {}{}, {}{}", b.min_exclusive ? "(" : "[", num(*b.min), num(*b.max),
                       b.max_exclusive ? ")" : "]");
  if (b.min) return fmt::format("{} {}", b.min_exclusive ? ">" : ">=", num(*b.min));
  if (b.max) return fmt::format("{} {}", b.max_exclusive ? "<" : "<=", num(*b.max));
  return "";
}

bool in_bounds(double v, const Bounds& b) {
  if (std::isnan(v)) return !b.min && !b.max;
  if (b.min && !(b.min_exclusive ? v > *b.min : v >= *b.min)) return false;
  if (b.max && !(b.max_exclusive ? v < *b.max : v <= *b.max)) return false;
  return true;
}

bool is_plain(const YAML::Node& node) { return node.Tag() != "!"; }

std::optional<double> parse_double(std::string text) {
  if (text == ".inf" || text == "+.inf" || text == ".Inf" || text == ".INF")
    return std::numeric_limits<double>::infinity();
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return -std::numeric_limits<double>::infinity();
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_int(std::string text) {
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && end == text.data() + text.size()) return v;
  // 1e5 or 2000.0: an integer written as a float.
  if (ec == std::errc::result_out_of_range) return std::nullopt;
  auto d = parse_double(text);
  if (d && std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9.0e18) return static_cast<int64_t>(*d);
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

// ---- conversion of one YAML node to T; nullopt + expectation on a type error ----
template <typename T>
struct Convert;

template <>
struct Convert<bool> {
  static constexpr const char* expected = "true or false";
  static std::optional<bool> from(const YAML::Node& n) {
    if (!n.IsScalar() || !is_plain(n)) return std::nullopt;
    return parse_bool(n.Scalar());
  }
};
template <>
struct Convert<int64_t> {
  static constexpr const char* expected = "an integer";
  static std::optional<int64_t> from(const YAML::Node& n) {
    if (!n.IsScalar() || !is_plain(n)) return std::nullopt;
    return parse_int(n.Scalar());
  }
};
template <>
struct Convert<double> {
  static constexpr const char* expected = "a number";
  static std::optional<double> from(const YAML::Node& n) {
    if (!n.IsScalar() || !is_plain(n)) return std::nullopt;
    return parse_double(n.Scalar());
  }
};
template <>
struct Convert<std::string> {
  static constexpr const char* expected = "a string";
  static std::optional<std::string> from(const YAML::Node& n) {
    if (!n.IsScalar()) return std::nullopt;
    return n.Scalar();
  }
};
template <typename E>
struct Convert<std::vector<E>> {
  static std::string expected_text() {
    if constexpr (std::is_same_v<E, int64_t>) return "a list of integers";
    if constexpr (std::is_same_v<E, double>) return "a list of numbers";
    return "a list of strings";
  }
  static std::optional<std::vector<E>> from(const YAML::Node& n) {
    if (!n.IsSequence()) return std::nullopt;
    std::vector<E> out;
    for (const YAML::Node& item : n) {
      auto v = Convert<E>::from(item);
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }
};

template <typename T>
std::string expected_text() {
  if constexpr (requires { Convert<T>::expected_text(); })
    return Convert<T>::expected_text();
  else
    return Convert<T>::expected;
}

template <typename T>
bool check_bounds(const T& v, const Bounds& b) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) return in_bounds(static_cast<double>(v), b);
  if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>)
    return std::all_of(v.begin(), v.end(), [&](auto e) { return in_bounds(static_cast<double>(e), b); });
  return true;
}

void set_resolved(DocumentState& s, const std::string& path, nlohmann::ordered_json value) {
  nlohmann::ordered_json* cur = &s.resolved;
  std::vector<std::string> parts = split(path, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    nlohmann::ordered_json& next = (*cur)[parts[i]];
    if (!next.is_object()) next = nlohmann::ordered_json::object();
    cur = &next;
  }
  (*cur)[parts.back()] = std::move(value);
}

std::vector<std::string> words(std::string_view name) {
  std::vector<std::string> out;
  for (auto& w : split(name, '_'))
    if (!w.empty()) out.push_back(w);
  return out;
}

std::string_view leaf_of(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}
std::string_view parent_of(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

// Strings that YAML reads as something other than a string need quotes.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (s != nlohmann::json(s).dump().substr(1, s.size())) return true;  // escapes (control chars, quotes, \)
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"})
    if (lower == word) return true;
  if (parse_double(s) || parse_int(s)) return true;
  if (std::string("-?:,[]{}#&*!|>'\"%@` ").find(s.front()) != std::string::npos) return true;
  if (s.back() == ' ' || s.back() == ':') return true;
  if (s.find_first_of(",[]{}") != std::string::npos) return true;  // flow-context indicators
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  return false;
}

std::string yaml_scalar(const nlohmann::ordered_json& v) {
  switch (v.type()) {
    case nlohmann::ordered_json::value_t::null:
      return "null";
    case nlohmann::ordered_json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case nlohmann::ordered_json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case nlohmann::ordered_json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isnan(d)) return ".nan";
      if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
      std::string text = fmt::format("{}", d);
      if (text.find_first_of(".e") == std::string::npos) text += ".0";
      return text;
    }
    case nlohmann::ordered_json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      return needs_quotes(s) ? nlohmann::json(s).dump() : s;
    }
    default:
      return v.dump();
  }
}

std::string yaml_flow(const nlohmann::ordered_json& v) {
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + yaml_flow(v[i]);
    return out + "]";
  }
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, item] : v.items()) {
      out += (first ? "" : ", ") + yaml_scalar(k) + ": " + yaml_flow(item);
      first = false;
    }
    return out + "}";
  }
  return yaml_scalar(v);
}

void yaml_block(const nlohmann::ordered_json& v, int indent, std::string& out) {
  for (const auto& [k, item] : v.items()) {
    out += std::string(indent, ' ') + yaml_scalar(k) + ":";
    if (item.is_object() && !item.empty()) {
      out += "\n";
      yaml_block(item, indent + 2, out);
    } else {
      out += ' ';
      out += yaml_flow(item);
      out += '\n';
    }
  }
}

}  // namespace

// ---- names ----

size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string_view leaf = leaf_of(name), parent = parent_of(name);
  const size_t typo_limit = std::max<size_t>(1, leaf.size() / 3);
  // Near spellings first: fewest edits, then the same section.
  std::string best;
  std::tuple<size_t, bool> best_typo{SIZE_MAX, true};
  for (const std::string& c : candidates) {
    size_t d = edit_distance(leaf, leaf_of(c));
    if (d > typo_limit) continue;
    std::tuple<size_t, bool> key{d, parent_of(c) != parent};
    if (key < best_typo) best_typo = key, best = c;
  }
  if (!best.empty()) return best;
  // Else shared words ("lr_warmup" and "warmup_steps" share "warmup"; a word may carry a typo): most shared letters,
  // then the same section, then fewest edits.
  const std::vector<std::string> mine = words(leaf);
  std::tuple<int64_t, bool, size_t> best_words{0, true, SIZE_MAX};
  for (const std::string& c : candidates) {
    int64_t shared = 0;
    std::vector<std::string> theirs = words(leaf_of(c));
    for (const std::string& w : mine) {
      // A word counts when spelled nearly the same ("warmpu" for "warmup").
      const size_t limit = w.size() >= 4 ? w.size() / 4 : 0;
      if (std::any_of(theirs.begin(), theirs.end(), [&](const std::string& t) { return edit_distance(w, t) <= limit; }))
        shared += static_cast<int64_t>(w.size());
    }
    if (shared < 2) continue;
    std::tuple<int64_t, bool, size_t> key{-shared, parent_of(c) != parent, edit_distance(leaf, leaf_of(c))};
    if (best.empty() || key < best_words) best_words = key, best = c;
  }
  return best;
}

// ---- Section ----

std::string Section::path(std::string_view key) const { return join_path(path_, key); }

bool Section::has(std::string_view key) const {
  YAML::Node n = lookup(state_->root, path(key));
  return n.IsDefined() && !n.IsNull();
}

void Section::fail(std::string_view key, const std::string& message) const {
  const std::string p = path(key);
  throw UserError(fmt::format("{}: '{}' {}", where(*state_, p, lookup(state_->root, p)), p, message));
}

Section Section::section(std::string_view key) const {
  const std::string p = path(key);
  YAML::Node n = lookup(state_->root, p);
  if (n.IsDefined() && !n.IsNull() && !n.IsMap())
    fail(key, fmt::format("must be a section (a mapping of keys), got {}", describe(n)));
  state_->known_sections.insert(p);
  return Section(state_, p);
}

template <typename T>
std::optional<T> Section::optional(std::string_view key, const Bounds& bounds) const {
  if constexpr (std::is_same_v<T, int>) {
    Bounds b = bounds;
    if (!b.min) b.min = std::numeric_limits<int>::min();
    if (!b.max) b.max = std::numeric_limits<int>::max();
    std::optional<int64_t> v = optional<int64_t>(key, b);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  } else {
    const std::string p = path(key);
    state_->known_leaves.insert(p);
    YAML::Node n = lookup(state_->root, p);
    if (!n.IsDefined() || n.IsNull()) {
      set_resolved(*state_, p, nullptr);
      return std::nullopt;
    }
    std::optional<T> v = Convert<T>::from(n);
    if (!v) {
      std::string got = describe(n);
      if (n.IsScalar() && !is_plain(n)) got = "the quoted string " + got;
      fail(key, fmt::format("must be {}, got {}", expected_text<T>(), got));
    }
    if (!check_bounds(*v, bounds)) fail(key, fmt::format("must be {}, got {}", describe_bounds(bounds), describe(n)));
    set_resolved(*state_, p, *v);
    return v;
  }
}

template <typename T>
T Section::get(std::string_view key, const T& fallback, const Bounds& bounds) const {
  if constexpr (std::is_same_v<T, int>) {
    Bounds b = bounds;
    if (!b.min) b.min = std::numeric_limits<int>::min();
    if (!b.max) b.max = std::numeric_limits<int>::max();
    return static_cast<int>(get<int64_t>(key, static_cast<int64_t>(fallback), b));
  } else {
    std::optional<T> v = optional<T>(key, bounds);
    if (v) return *v;
    set_resolved(*state_, path(key), fallback);
    return fallback;
  }
}

template <typename T>
T Section::require(std::string_view key, const Bounds& bounds) const {
  if constexpr (std::is_same_v<T, int>) {
    Bounds b = bounds;
    if (!b.min) b.min = std::numeric_limits<int>::min();
    if (!b.max) b.max = std::numeric_limits<int>::max();
    return static_cast<int>(require<int64_t>(key, b));
  } else {
    std::optional<T> v = optional<T>(key, bounds);
    if (!v) {
      YAML::Node sec = lookup(state_->root, path_);
      std::string src = where(*state_, path_, sec);
      throw UserError(fmt::format("{}: missing required key '{}' ({})", src, path(key), expected_text<T>()));
    }
    return *v;
  }
}

std::string Section::choice(std::string_view key, const std::string& fallback,
                            const std::vector<std::string>& choices) const {
  std::string v = get<std::string>(key, fallback);
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  std::string near = nearest_name(v, choices);
  fail(key,
       fmt::format("must be one of {}, got '{}'{}", list, v, near.empty() ? "" : "; did you mean '" + near + "'?"));
}

std::filesystem::path Section::file(std::string_view key, const std::string& fallback, PathKind kind) const {
  std::string v = get<std::string>(key, fallback);
  if (v.empty()) {
    if (kind != PathKind::Any && has(key)) fail(key, "must be a path, got an empty string");
    return {};
  }
  std::filesystem::path p(v);
  std::error_code ec;
  const bool exists = std::filesystem::exists(p, ec);
  switch (kind) {
    case PathKind::Any:
      break;
    case PathKind::Existing:
      if (!exists) fail(key, fmt::format("names '{}', which does not exist", v));
      break;
    case PathKind::ExistingFile:
      if (!exists) fail(key, fmt::format("names the file '{}', which does not exist", v));
      if (!std::filesystem::is_regular_file(p, ec))
        fail(key, fmt::format("must name a file; '{}' is not a regular file", v));
      break;
    case PathKind::ExistingDir:
      if (!exists) fail(key, fmt::format("names the directory '{}', which does not exist", v));
      if (!std::filesystem::is_directory(p, ec)) fail(key, fmt::format("must name a directory; '{}' is not one", v));
      break;
  }
  return p;
}

#define FF_CONFIG_INSTANTIATE(T)                                               \
  template T Section::get<T>(std::string_view, const T&, const Bounds&) const; \
  template T Section::require<T>(std::string_view, const Bounds&) const;       \
  template std::optional<T> Section::optional<T>(std::string_view, const Bounds&) const;
FF_CONFIG_INSTANTIATE(bool)
FF_CONFIG_INSTANTIATE(int64_t)
FF_CONFIG_INSTANTIATE(double)
FF_CONFIG_INSTANTIATE(std::string)
FF_CONFIG_INSTANTIATE(std::vector<int64_t>)
FF_CONFIG_INSTANTIATE(std::vector<double>)
FF_CONFIG_INSTANTIATE(std::vector<std::string>)
#undef FF_CONFIG_INSTANTIATE
template int Section::get<int>(std::string_view, const int&, const Bounds&) const;
template int Section::require<int>(std::string_view, const Bounds&) const;
template std::optional<int> Section::optional<int>(std::string_view, const Bounds&) const;

// ---- Document ----

Document Document::from_string(const std::string& text, const std::string& source) {
  auto state = std::make_shared<DocumentState>();
  state->source = source;
  try {
    state->root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UserError(
        fmt::format("{} line {}, column {}: invalid YAML: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  state->empty = !state->root.IsDefined() || state->root.IsNull();
  if (state->empty) state->root = YAML::Node(YAML::NodeType::Map);
  if (!state->root.IsMap())
    throw UserError(
        fmt::format("{}: expected a mapping of keys at the top level, got {}", source, describe(state->root)));
  check_no_duplicate_keys(text, source);
  return Document(std::move(state));
}

Document Document::from_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;  // other errors (a parent that cannot be searched) surface in the read
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found)
    throw UserError(fmt::format("config file '{}' does not exist; expected a YAML file", name));
  if (std::filesystem::is_directory(status))
    throw UserError(fmt::format("config file '{}' is a directory; expected a YAML file", name));
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_file(path);
  } catch (const UserError& e) {
    throw UserError(fmt::format("config file: {}; expected a readable YAML file", e.what()));
  }
  Document doc = from_string(std::string(bytes.begin(), bytes.end()), name);
  // An empty file is more likely a wrong path or a failed write than a config of defaults.
  if (doc.state_->empty)
    throw UserError(fmt::format("config file '{}' is empty; expected a YAML file with a mapping of keys", name));
  return doc;
}

void Document::apply_override(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UserError(fmt::format("--set {}: expected key=value (e.g. train.max_steps=100)", assignment));
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  const std::vector<std::string> parts = split(key, '.');
  for (const std::string& part : parts)
    if (part.empty() ||
        part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
      throw UserError(fmt::format(
          "--set {}: '{}' is not a key path (names of letters, digits, '_' and '-' joined by '.')", assignment, key));
  if (text.empty()) throw UserError(fmt::format("--set {}: missing value after '='", assignment));
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UserError(fmt::format("--set {}: the value is not valid YAML: {}", assignment, e.msg));
  }
  YAML::Node cur;
  cur.reset(state_->root);
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked = join_path(walked, parts[i]);
    YAML::Node next = cur[parts[i]];
    if (!next.IsDefined() || next.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(cur[parts[i]]);
    } else if (!next.IsMap()) {
      throw UserError(fmt::format("--set {}: '{}' holds a value, not a section of keys", assignment, walked));
    }
    cur.reset(next);
  }
  cur[parts.back()] = value;
  state_->overrides[key] = assignment;
}

void Document::apply_overrides(const std::vector<std::string>& assignments) {
  for (const std::string& a : assignments) apply_override(a);
}

Section Document::root() const { return Section(state_, ""); }
const std::string& Document::source() const { return state_->source; }
const nlohmann::ordered_json& Document::resolved() const { return state_->resolved; }
std::string Document::resolved_yaml() const { return to_yaml(state_->resolved); }

void Document::check_no_unknown_keys() const {
  const DocumentState& s = *state_;
  std::vector<std::string> known(s.known_leaves.begin(), s.known_leaves.end());
  known.insert(known.end(), s.known_sections.begin(), s.known_sections.end());
  auto walk = [&](auto&& self, const YAML::Node& map, const std::string& prefix) -> void {
    for (const auto& entry : map) {
      const std::string p = join_path(prefix, entry.first.Scalar());
      if (s.known_leaves.count(p)) continue;
      if (s.known_sections.count(p)) {
        if (entry.second.IsMap()) self(self, entry.second, p);
        continue;
      }
      std::string msg;
      std::string name = p;
      if (auto made = override_that_created(s, p, entry.first)) {
        // `--set trian.max_steps=3` made the section 'trian': name the whole key the user typed.
        name = made->first;
        msg = fmt::format("unknown key '{}' (from --set {})", name, made->second);
      } else if (std::string src = where(s, p, entry.first); src.starts_with("--set")) {
        msg = fmt::format("unknown key '{}' (from {})", p, src);
      } else if (src.starts_with(s.source + " line")) {
        msg = fmt::format("unknown key '{}' in {} ({})", p, s.source, src.substr(s.source.size() + 1));
      } else {
        msg = fmt::format("unknown key '{}' in {}", p, src);
      }
      if (std::string near = nearest_name(name, known); !near.empty()) msg += fmt::format("; did you mean '{}'?", near);
      throw UserError(msg);
    }
  };
  walk(walk, s.root, "");
}

std::string to_yaml(const nlohmann::ordered_json& value) {
  if (!value.is_object()) return yaml_flow(value) + "\n";
  std::string out;
  yaml_block(value, 0, out);
  return out;
}

std::string expand_env(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t depth = 1, j = i + 2;
    for (; j < text.size() && depth > 0; ++j) {
      if (text.compare(j, 2, "${") == 0) ++depth, ++j;
      else if (text[j] == '}') --depth;
    }
    FF_USER_CHECK(depth == 0, "unterminated '${{' in '{}'", text);
    const std::string inner = text.substr(i + 2, j - 1 - (i + 2));
    const size_t sep = inner.find(":-");
    const std::string name = inner.substr(0, sep);
    const char* value = std::getenv(name.c_str());
    if (value && *value) out += value;
    else if (sep != std::string::npos) out += expand_env(inner.substr(sep + 2));
    i = j;
  }
  return out;
}

}  // namespace ff::config
