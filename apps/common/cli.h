#pragma once
// The command-line layer of fourierformer-train, -eval and -bench: CLI11 parses, and this file
// gives every flag a contract a person can read and every mistake one line naming the flag,
// what it expects and what it got:
//
//   --segments: expected a whole number of at least 1, got '0'
//   --segments needs --head-diversity
//   --json needs a value before '--split'
//   unknown option '--segment'; did you mean '--segments'?
//
// CLI11's own range validators and messages speak of its internals ("Value 0 not in range
// 0.000000 to 17976931348623157...", "1 required INT:POSITIVE missing", extra arguments listed
// in reverse), so the apps check values with the validators below, declare dependencies with
// CLI11's needs()/excludes(), and parse() reports whatever CLI11 rejects in these words, on one
// line, with exit code 2, before any work:
//
//   app.add_option("--segments", segments, "...")->check(cli::whole_number(1))->needs(head_div);
//   if (int code = cli::parse(app, argc, argv); code >= 0) return code;

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ff::apps::cli {

// The first call of every app's main(). GNU OpenMP's default wait policy keeps a thread that
// has finished its share of a parallel region spinning for a while before it sleeps; when
// other threads want the cores (the image loader's workers, anything else on a small machine)
// the spinning threads take their time slices and every short parallel region waits for a
// descheduled one. Measured on a 2-core machine with OMP_WAIT_POLICY=PASSIVE: the Fashion-MNIST
// ViTs train 1.35-1.9x faster (docs/perf/cpu-vit.md), the Brown Fourier LM 1.24-1.28x
// (docs/perf/cpu-lm-train.md). libgomp reads
// the variable when it is loaded, before main(), so when the user has not set it this sets it
// and executes the program again (/proc/self/exe, same arguments and process id); a user's own
// OMP_WAIT_POLICY (e.g. ACTIVE) is left as it is. If the exec fails, the app goes on unchanged.
void use_passive_omp_wait(char** argv);

// A command-line mistake whose message is the whole line (CLI11 prefixes a validator's message
// with "--flag: "; this one is printed as it is).
class UsageError : public CLI::ParseError {
 public:
  explicit UsageError(std::string message);
};

// `text` as an integer: decimal digits with an optional leading '-', nothing else (no spaces,
// '+', exponent or fraction), within int64; nullopt otherwise.
std::optional<int64_t> parse_whole_number(std::string_view text);
// "a,b,,c" -> {"a", "b", "", "c"} ("" -> {""}).
std::vector<std::string> split_commas(std::string_view text);
// Comma-separated whole numbers ("48,8,256"); nullopt when any item is not one.
std::optional<std::vector<int64_t>> parse_whole_numbers(std::string_view text);

// A whole number in [min, max] (no max: at least min).
CLI::Validator whole_number(int64_t min, std::optional<int64_t> max = std::nullopt);
// `count` comma-separated whole numbers of at least `min` (count 0: any number of them, at least
// one), read as `layout` ("B,H,Nq,Nk,D").
CLI::Validator whole_numbers(size_t count, int64_t min, const std::string& layout);
// One of `choices`.
CLI::Validator one_of(std::vector<std::string> choices);
// A comma-separated list of `choices` ("valid,test"), each a `what` ("split") in messages.
CLI::Validator list_of(std::vector<std::string> choices, const std::string& what);
// A file to be written at the end of a run: its directory must exist and it must not be a
// directory, so that the mistake is found before the work and not after it.
CLI::Validator output_file();
// A device name as ff::parse_device reads it (cpu, cuda, cuda:N).
CLI::Validator device_name();

// --version: prints "<app> <version (git hash)>" and exits 0.
void add_version_flag(CLI::App& app);

// Parses argv. Returns 0 after --help or --version (printed), 2 after a usage error (one line
// "<app>: error: <message>" on stderr), and -1 when the program should go on.
int parse(CLI::App& app, int argc, char** argv);

}  // namespace ff::apps::cli
