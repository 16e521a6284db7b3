#pragma once
// Splits UTF-8 text into lines and whitespace-separated tokens exactly as the reference's
// Python does (`for line in open(path, encoding="utf-8")` then `line.split()`):
// - lines end at "\n", "\r\n" or a lone "\r" (Python's universal newlines); a last line
//   without a terminator still counts, an empty file has no lines;
// - tokens are separated by any character for which Python's str.isspace() is true: ASCII
//   \t \n \v \f \r, space, \x1c-\x1f, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
//   U+2029, U+202F, U+205F, U+3000;
// - invalid UTF-8 (which Python refuses to decode) is a ff::UserError naming the source,
//   line and byte offset.
// ASCII bytes take a table lookup each; only non-ASCII bytes are decoded.

#include <array>
#include <cstdint>
#include <string_view>

#include "kernels/common.h"

namespace ff::data {

namespace scan_detail {
enum ByteClass : uint8_t { kWordByte, kSpaceByte, kLineFeed, kCarriageReturn, kNonAscii };

constexpr std::array<uint8_t, 256> make_byte_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x80 ? kWordByte : kNonAscii;
  for (int c : {0x09, 0x0b, 0x0c, 0x20, 0x1c, 0x1d, 0x1e, 0x1f}) t[c] = kSpaceByte;
  t['\n'] = kLineFeed;
  t['\r'] = kCarriageReturn;
  return t;
}
inline constexpr std::array<uint8_t, 256> kByteClass = make_byte_classes();

// Decodes one non-ASCII UTF-8 sequence at p (p < end, *p >= 0x80) with the strictness of
// Python's decoder (no overlong forms, no surrogates, nothing above U+10FFFF). Returns its
// length and sets cp, or returns 0 when the bytes are not valid UTF-8.
inline int decode_utf8(const unsigned char* p, const unsigned char* end, uint32_t& cp) {
  const unsigned char b0 = p[0];
  int len;
  uint32_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0f;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (end - p < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (int i = 1; i < len; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  return len;
}

inline bool is_unicode_space(uint32_t cp) {
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}
}  // namespace scan_detail

// Calls on_token(std::string_view token, int64_t line) for each token and
// on_line_end(int64_t line) once per line (lines are numbered from 1). `source` names the text
// in error messages (a path).
template <class OnToken, class OnLineEnd>
void scan_lines_and_tokens(std::string_view text, std::string_view source, OnToken&& on_token,
                           OnLineEnd&& on_line_end) {
  using namespace scan_detail;
  const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = begin + text.size();
  const unsigned char* p = begin;
  const unsigned char* line_start = begin;
  const unsigned char* token_start = nullptr;
  int64_t line = 1;
  auto flush_token = [&](const unsigned char* token_end) {
    if (token_start) {
      on_token(std::string_view(reinterpret_cast<const char*>(token_start),
                                static_cast<size_t>(token_end - token_start)),
               line);
      token_start = nullptr;
    }
  };
  while (p < end) {
    switch (kByteClass[*p]) {
      case kWordByte:
        if (!token_start) token_start = p;
        ++p;
        while (p < end && kByteClass[*p] == kWordByte) ++p;
        break;
      case kSpaceByte:
        flush_token(p);
        ++p;
        break;
      case kLineFeed:
      case kCarriageReturn:
        flush_token(p);
        p += (*p == '\r' && p + 1 < end && p[1] == '\n') ? 2 : 1;
        on_line_end(line);
        ++line;
        line_start = p;
        break;
      default: {
        uint32_t cp = 0;
        const int len = decode_utf8(p, end, cp);
        FF_USER_CHECK(len > 0,
                      "{}:{}: invalid UTF-8 (byte 0x{:02x} at byte offset {} of the file, column "
                      "{}); expected UTF-8 text (a truncated or binary file?)",
                      source, line, *p, p - begin, p - line_start + 1);
        if (is_unicode_space(cp)) {
          flush_token(p);
        } else if (!token_start) {
          token_start = p;
        }
        p += len;
      }
    }
  }
  flush_token(p);
  if (p > line_start) on_line_end(line);
}

}  // namespace ff::data
