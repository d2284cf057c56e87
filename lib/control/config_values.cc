// Value syntax of the conf file: addresses, CIDRs, lcore lists, device names; error formatting.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/control/config_internal.h"

namespace natgw::control::internal {
namespace {

bool AllOf(absl::string_view s, int (*pred)(int)) {
  return std::all_of(s.begin(), s.end(),
                     [pred](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

// A decimal number without sign or leading zeros, at most `max`.
bool ParseDecimal(absl::string_view s, uint32_t max, uint32_t* out) {
  if (s.empty() || s.size() > 10 || !AllOf(s, isdigit)) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

absl::Status Errors::At(int line, absl::string_view section, absl::string_view what,
                        absl::string_view fix) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ":", line, ": ", section, ": ", what, "; ", fix));
}

int Lines::operator()(absl::string_view key) const {
  auto it = keys.find(key);
  return it == keys.end() ? table : it->second;
}

std::string FormatIp(uint32_t ip_be) {
  uint32_t h = ntohl(ip_be);
  return absl::StrFormat("%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

std::string FormatCidr(const nat::Cidr& cidr) {
  return absl::StrCat(FormatIp(cidr.addr), "/", cidr.len);
}

bool ParseIp(absl::string_view text, uint32_t* ip_be) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  uint32_t h = 0;
  for (absl::string_view p : parts) {
    uint32_t v;
    if (p.size() > 3 || !ParseDecimal(p, 255, &v)) return false;
    h = (h << 8) | v;
  }
  *ip_be = htonl(h);
  return true;
}

bool ParseIpAndPrefix(absl::string_view text, uint32_t* ip_be, int* len) {
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    *len = -1;
    return ParseIp(text, ip_be);
  }
  uint32_t l;
  if (!ParseDecimal(text.substr(slash + 1), 32, &l)) return false;
  *len = static_cast<int>(l);
  return ParseIp(text.substr(0, slash), ip_be);
}

uint32_t PrefixMask(int len) {
  return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
}

nat::Cidr MaskedCidr(uint32_t ip_be, int len) {
  return nat::Cidr{htonl(ntohl(ip_be) & PrefixMask(len)), static_cast<uint8_t>(len)};
}

uint32_t FirstHost(const nat::Cidr& c) { return ntohl(c.addr) & PrefixMask(c.len); }
uint32_t LastHost(const nat::Cidr& c) { return FirstHost(c) | ~PrefixMask(c.len); }

bool CidrsOverlap(const nat::Cidr& a, const nat::Cidr& b) {
  return FirstHost(a) <= LastHost(b) && FirstHost(b) <= LastHost(a);
}

bool ParseLcores(absl::string_view text, uint32_t max_lcore, std::vector<uint32_t>* out,
                 std::vector<uint32_t>* cpus, std::string* why) {
  out->clear();
  cpus->clear();
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> pin =
        absl::StrSplit(item, absl::MaxSplits('@', 1));
    uint32_t cpu = 0;
    const bool pinned = item.find('@') != absl::string_view::npos;
    if (pinned) {
      if (!ParseDecimal(absl::StripAsciiWhitespace(pin.second), max_lcore, &cpu)) {
        *why = absl::StrCat("'", item, "': after '@' comes the CPU to run on, 0..", max_lcore);
        return false;
      }
      item = absl::StripAsciiWhitespace(pin.first);
    }
    std::pair<absl::string_view, absl::string_view> ends =
        absl::StrSplit(item, absl::MaxSplits('-', 1));
    if (item.find('-') == absl::string_view::npos) ends.second = ends.first;
    uint32_t first, last;
    if (!ParseDecimal(absl::StripAsciiWhitespace(ends.first), max_lcore, &first) ||
        !ParseDecimal(absl::StripAsciiWhitespace(ends.second), max_lcore, &last)) {
      *why = absl::StrCat("'", item, "' is not an lcore id 0..", max_lcore, " or a range A-B");
      return false;
    }
    if (first > last) {
      *why = absl::StrCat("range '", item, "' runs backwards");
      return false;
    }
    for (uint32_t id = first; id <= last; ++id) {
      if (std::find(out->begin(), out->end(), id) != out->end()) {
        *why = absl::StrCat("lcore ", id, " is listed twice");
        return false;
      }
      out->push_back(id);
      cpus->push_back(pinned ? cpu : id);
    }
  }
  return true;
}

bool IsPciAddress(absl::string_view device) {
  // [DDDD:]BB:DD.F
  auto hex = [](absl::string_view s, size_t n) { return s.size() == n && AllOf(s, isxdigit); };
  if (device.size() == 12) {
    if (device[4] != ':' || !hex(device.substr(0, 4), 4)) return false;
    device.remove_prefix(5);
  }
  if (device.size() != 7 || device[2] != ':' || device[5] != '.') return false;
  if (!hex(device.substr(0, 2), 2) || !hex(device.substr(3, 2), 2)) return false;
  // Device numbers are 5 bits (00..1f), functions 3 bits (0..7).
  return (device[3] == '0' || device[3] == '1') && device[6] >= '0' && device[6] <= '7';
}

bool IsVdevName(absl::string_view device) {
  if (!absl::ConsumePrefix(&device, "net_") || device.empty() || !isalpha(device[0])) return false;
  return std::all_of(device.begin(), device.end(),
                     [](char c) { return islower(c) || isdigit(c) || c == '_'; });
}

bool IsPlainName(absl::string_view name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
    return isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

absl::string_view ClosestMatch(absl::string_view word,
                               const std::vector<absl::string_view>& options) {
  absl::string_view best;
  size_t best_distance = 3;  // typos: at most two edits
  for (absl::string_view o : options) {
    // Edit distance counting a swap of two neighbours as one edit (optimal string alignment).
    const size_t n = word.size(), m = o.size();
    std::vector<size_t> d((n + 1) * (m + 1));
    auto at = [&](size_t i, size_t j) -> size_t& { return d[i * (m + 1) + j]; };
    auto same = [](char a, char b) { return tolower(a) == tolower(b); };
    for (size_t i = 0; i <= n; ++i) at(i, 0) = i;
    for (size_t j = 0; j <= m; ++j) at(0, j) = j;
    for (size_t i = 1; i <= n; ++i) {
      for (size_t j = 1; j <= m; ++j) {
        at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1,
                             at(i - 1, j - 1) + (same(word[i - 1], o[j - 1]) ? 0 : 1)});
        if (i > 1 && j > 1 && same(word[i - 1], o[j - 2]) && same(word[i - 2], o[j - 1])) {
          at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
        }
      }
    }
    size_t dist = at(n, m);
    if (dist < best_distance && dist < std::max<size_t>(m, 2)) {
      best_distance = dist;
      best = o;
    }
  }
  return best;
}

}  // namespace natgw::control::internal

namespace natgw::control {

std::string DpdkConfig::EalLcoreMap() const {
  if (lcores.find('@') == std::string::npos) return "";
  std::string map;
  for (size_t i = 0; i < lcore_ids.size() && i < lcore_cpus.size(); ++i) {
    absl::StrAppend(&map, i == 0 ? "" : ",", lcore_ids[i], "@", lcore_cpus[i]);
  }
  return map;
}

}  // namespace natgw::control
