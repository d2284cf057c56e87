#include "lib/net/parse.h"

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

}  // namespace natgw::net
