#include "lib/net/parse.h"

#include <cstring>

namespace natgw::net {

const char* ParseErrorName(ParseError e) {
  switch (e) {
#define NATGW_X(e, s) \
  case ParseError::e: \
    return s;
    NATGW_PARSE_ERRORS(NATGW_X)
#undef NATGW_X
  }
  return "unknown";
}

int CopiedIpv4Options(const uint8_t* opts, uint32_t len, uint8_t* out) {
  constexpr uint8_t kEndOfList = 0;
  constexpr uint8_t kNoOperation = 1;
  constexpr uint8_t kCopied = 0x80;
  uint32_t n = 0;
  for (uint32_t i = 0; i < len;) {
    const uint8_t type = opts[i];
    if (type == kEndOfList) break;
    if (type == kNoOperation) {
      ++i;
      continue;
    }
    if (i + 1 >= len) return -1;
    const uint8_t olen = opts[i + 1];
    if (olen < 2 || i + olen > len) return -1;
    if ((type & kCopied) != 0) {
      std::memcpy(out + n, opts + i, olen);
      n += olen;
    }
    i += olen;
  }
  while (n % 4 != 0) out[n++] = kEndOfList;
  return static_cast<int>(n);
}

}  // namespace natgw::net
