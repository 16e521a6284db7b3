#include "apps/common/cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "core/config/config.h"
#include "core/tensor/device.h"
#include "core/train/run.h"
#include "core/train/trainer.h"

namespace ff::apps::cli {

namespace fs = std::filesystem;

void use_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;  // the user's choice, or done already
  if (::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only when it failed: run with libgomp's default
  ::unsetenv("OMP_WAIT_POLICY");
}

UsageError::UsageError(std::string message)
    : CLI::ParseError("UsageError", std::move(message), train::kExitUserError) {}

std::optional<int64_t> parse_whole_number(std::string_view text) {
  if (text.empty() || text.front() == '+') return std::nullopt;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> items;
  for (size_t begin = 0;;) {
    const size_t comma = std::min(text.find(',', begin), text.size());
    items.emplace_back(text.substr(begin, comma - begin));
    if (comma == text.size()) return items;
    begin = comma + 1;
  }
}

std::optional<std::vector<int64_t>> parse_whole_numbers(std::string_view text) {
  std::vector<int64_t> out;
  for (const std::string& item : split_commas(text)) {
    const std::optional<int64_t> v = parse_whole_number(item);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

namespace {

// "a", "a or b", "a, b or c".
std::string either(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

// "--name", "-c": what a user types for a flag, as opposed to a value ("-3" is a value).
bool looks_like_option(std::string_view s) {
  return (s.size() > 2 && s.starts_with("--")) ||
         (s.size() >= 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1])));
}

std::vector<CLI::App*> defined_subcommands(CLI::App& app) {
  return app.get_subcommands([](CLI::App*) { return true; });
}

// The app and all its subcommands, depth first: where an option may be defined.
std::vector<CLI::App*> scopes_of(CLI::App& app) {
  std::vector<CLI::App*> out{&app};
  for (CLI::App* sub : defined_subcommands(app))
    for (CLI::App* s : scopes_of(*sub)) out.push_back(s);
  return out;
}

// The scopes whose options this command line may use: the app and the subcommands given
// (options fall through to their parents); every scope when no subcommand was given.
std::vector<CLI::App*> active_scopes(CLI::App& app, const std::vector<CLI::App*>& scopes) {
  if (app.get_subcommands().empty()) return scopes;
  std::vector<CLI::App*> out{&app};
  for (CLI::App* sub : app.get_subcommands())
    for (CLI::App* s : active_scopes(*sub, scopes_of(*sub))) out.push_back(s);
  return out;
}

CLI::App* scope_of(const std::vector<CLI::App*>& scopes, const std::string& name) {
  for (CLI::App* scope : scopes)
    if (scope->get_option_no_throw(name) != nullptr) return scope;
  return nullptr;
}

const CLI::Option* find_option(const std::vector<CLI::App*>& scopes, const std::string& name) {
  const CLI::App* scope = scope_of(scopes, name);
  return scope ? scope->get_option_no_throw(name) : nullptr;
}

bool takes_values(const CLI::Option& opt) { return opt.get_items_expected_max() > 0; }  // flags expect 0

// CLI11 hands an option the next argument even when it is another flag (`--json --split valid`
// would write a file named "--split"); this check runs before every other validator.
void refuse_missing_values(const std::vector<CLI::App*>& scopes) {
  for (CLI::App* scope : scopes)
    for (CLI::Option* opt : scope->get_options([](CLI::Option* o) { return takes_values(*o); })) {
      const std::string name = opt->get_name();
      opt->transform(CLI::Validator(
          [name](std::string& value) -> std::string {
            if (value.empty()) throw UsageError(fmt::format("{} needs a value, got ''", name));
            if (looks_like_option(value)) throw UsageError(fmt::format("{} needs a value before '{}'", name, value));
            return {};
          },
          ""));
    }
}

// What CLI11 reports only in its own words, found on argv before it parses: a flag given a
// value, and a valued option that ends the command line.
void check_arguments(const std::vector<CLI::App*>& scopes, int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") return;  // help wins
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return;
    const size_t eq = arg.find('=');
    const CLI::Option* opt = find_option(scopes, arg.substr(0, eq));
    if (opt == nullptr) continue;
    if (!takes_values(*opt) && eq != std::string::npos)
      throw UsageError(fmt::format("{} takes no value, got '{}'", arg.substr(0, eq), arg));
    if (takes_values(*opt) && opt->get_expected_min() > 0 && eq == std::string::npos && i + 1 == argc)
      throw UsageError(fmt::format("{} needs a value", arg));
  }
}

std::string unknown_argument(CLI::App& app, const std::vector<CLI::App*>& all_scopes, const std::string& arg) {
  const std::vector<CLI::App*> scopes = active_scopes(app, all_scopes);
  if (looks_like_option(arg)) {
    const std::string name = arg.substr(0, arg.find('='));
    if (const CLI::App* owner = scope_of(all_scopes, name)) {
      const CLI::App* given = app.get_subcommands().empty() ? &app : app.get_subcommands().back();
      return fmt::format("{} is an option of {}, not of {}", name, owner->get_name(), given->get_name());
    }
    // nearest_name compares '_'-separated words of the last '.'-component: give it the names so.
    auto key = [](std::string n) {
      n.erase(0, n.find_first_not_of('-'));
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    };
    std::vector<std::string> names, keys;
    for (const CLI::App* scope : scopes)
      for (const CLI::Option* opt : scope->get_options())
        for (const std::string& l : opt->get_lnames()) {
          names.push_back("--" + l);
          keys.push_back(key(l));
        }
    const auto near = std::find(keys.begin(), keys.end(), config::nearest_name(key(name), keys));
    if (near == keys.end()) return fmt::format("unknown option '{}' (see --help)", name);
    return fmt::format("unknown option '{}'; did you mean '{}'?", name, names[near - keys.begin()]);
  }
  const auto subcommands = defined_subcommands(app);
  if (!subcommands.empty() && app.get_subcommands().empty()) {
    std::vector<std::string> names;
    for (const CLI::App* s : subcommands) names.push_back(s->get_name());
    return fmt::format("unknown subcommand '{}'; expected {}", arg, either(names));
  }
  return fmt::format("unexpected argument '{}' (see --help)", arg);
}

// The rule a failed parse broke, from the state CLI11 leaves behind (its exceptions carry only
// a finished sentence).
std::string broken_rule(CLI::App& app, const std::vector<CLI::App*>& scopes) {
  for (CLI::App* scope : scopes) {
    const bool parsed = scope == &app || scope->parsed();
    for (const CLI::Option* opt : scope->get_options()) {
      const std::string name = opt->get_name();
      if (parsed && opt->get_required() && opt->count() == 0) return fmt::format("{} is required", name);
      if (opt->count() == 0) continue;
      for (const CLI::Option* need : opt->get_needs())
        if (need->count() == 0) return fmt::format("{} needs {}", name, need->get_name());
      for (const CLI::Option* other : opt->get_excludes())
        if (other->count() > 0) return fmt::format("{} cannot be used with {}", name, other->get_name());
      if (takes_values(*opt) && opt->get_items_expected_max() == 1 && opt->count() > 1)
        return fmt::format("{} is given {} times; give it once", name, opt->count());
    }
    if (parsed && scope->get_require_subcommand_min() > 0 && scope->get_subcommands().empty()) {
      std::vector<std::string> names;
      for (const CLI::App* s : defined_subcommands(*scope)) names.push_back(s->get_name());
      return fmt::format("expected a subcommand: {}", either(names));
    }
  }
  return {};
}

std::string usage_message(CLI::App& app, const std::vector<CLI::App*>& scopes, const CLI::ParseError& e) {
  if (dynamic_cast<const UsageError*>(&e)) return e.what();
  // A mistyped flag or a stray word is the likeliest cause of whatever CLI11 reports after it.
  for (const CLI::App* scope : scopes)
    for (const std::string& arg : scope->remaining()) return unknown_argument(app, scopes, arg);
  // Our validators' messages, after CLI11's "--flag: ".
  if (dynamic_cast<const CLI::ValidationError*>(&e)) return e.what();
  if (std::string rule = broken_rule(app, scopes); !rule.empty()) return rule;
  return e.what();
}

}  // namespace

CLI::Validator whole_number(int64_t min, std::optional<int64_t> max) {
  const std::string expected = max ? fmt::format("a whole number from {} to {}", min, *max)
                                   : fmt::format("a whole number of at least {}", min);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::optional<int64_t> v = parse_whole_number(text);
        if (v && *v >= min && (!max || *v <= *max)) return {};
        return fmt::format("expected {}, got '{}'", expected, text);
      },
      max ? fmt::format("{}..{}", min, *max) : fmt::format(">={}", min));
}

CLI::Validator whole_numbers(size_t count, int64_t min, const std::string& layout) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const auto values = parse_whole_numbers(text);
        const auto at_least_min = [&](int64_t v) { return v >= min; };
        if (values && (count == 0 ? !values->empty() : values->size() == count) &&
            std::all_of(values->begin(), values->end(), at_least_min))
          return {};
        if (count == 0)
          return fmt::format("expected {}: whole numbers of at least {} separated by commas, got '{}'", layout, min, text);
        return fmt::format("expected {}: {} whole numbers of at least {} separated by commas, got '{}'", layout, count,
                           min, text);
      },
      "");
}

CLI::Validator one_of(std::vector<std::string> choices) {
  const std::string description = "{" + join(choices, ",") + "}";
  return CLI::Validator(
      [choices](std::string& text) -> std::string {
        if (std::find(choices.begin(), choices.end(), text) != choices.end()) return {};
        return fmt::format("expected {}, got '{}'", either(choices), text);
      },
      description);
}

CLI::Validator list_of(std::vector<std::string> choices, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        for (const std::string& item : split_commas(text))
          if (std::find(choices.begin(), choices.end(), item) == choices.end())
            return fmt::format("unknown {} '{}' in '{}'; expected {}, separated by commas", what, item, text,
                               either(choices));
        return {};
      },
      "");
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const fs::path path(text);
        std::error_code ec;
        if (fs::is_directory(path, ec)) return fmt::format("'{}' is a directory; expected a file to write", text);
        const fs::path dir = path.parent_path();
        if (!dir.empty() && !fs::is_directory(dir, ec))
          return fmt::format("cannot write '{}': directory '{}' does not exist", text, dir.string());
        return {};
      },
      "");
}

CLI::Validator device_name() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          parse_device(text);
        } catch (const UserError& e) {
          return e.what();
        }
        return {};
      },
      "");
}

void add_version_flag(CLI::App& app) {
  app.add_flag_callback(
      "--version",
      [&app] {
        std::cout << app.get_name() << " " << train::version_string() << std::endl;
        throw CLI::Success();
      },
      "Print the version and exit");
}

int parse(CLI::App& app, int argc, char** argv) {
  const std::vector<CLI::App*> scopes = scopes_of(app);
  refuse_missing_values(scopes);
  try {
    check_arguments(scopes, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), usage_message(app, scopes, e).c_str());
    return train::kExitUserError;
  }
  return -1;
}

}  // namespace ff::apps::cli
