// ctest learns the Catch test names through catch_discover_tests, which splits a name at ';':
// such a test would become ctest entries that match no Catch test and pass without running.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/paths.h"

namespace fs = std::filesystem;

TEST_CASE("tests: no TEST_CASE name holds a semicolon (ctest would split it and run nothing)", "[apps][tests]") {
  const fs::path root = fs::path(ff::testing::source_dir()) / "tests";
  REQUIRE(fs::is_directory(root));
  // The name is the first string literal after TEST_CASE(, possibly on the next line.
  const std::regex name(R"re(TEST_CASE\(\s*"((?:[^"\\]|\\.)*)")re");
  std::vector<std::string> offending;
  int files = 0, names = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".cpp") continue;
    ++files;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    for (auto it = std::sregex_iterator(s.begin(), s.end(), name); it != std::sregex_iterator(); ++it) {
      ++names;
      if ((*it)[1].str().find(';') != std::string::npos)
        offending.push_back(fs::relative(e.path(), root).string() + ": " + (*it)[1].str());
    }
  }
  INFO(files << " files, " << names << " test names");
  CHECK(names > 400);  // the scan found the suite (about 430 names today)
  CHECK(offending == std::vector<std::string>{});
}
