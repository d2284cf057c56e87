#include "lib/telemetry/event_lookup.h"

#include <arpa/inet.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace natgw::telemetry {
namespace {

using nlohmann::json;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-days method).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "a.b.c.d:port" or "a.b.c.d#id" -> address (network order) and port (host order, 0 if none).
bool SplitEndpoint(const std::string& s, uint32_t* ip, uint16_t* port) {
  const size_t sep = s.find_first_of(":#");
  const std::string addr = s.substr(0, sep);
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1) return false;
  *ip = a.s_addr;
  *port = 0;
  if (sep == std::string::npos) return true;
  uint32_t p;
  if (!absl::SimpleAtoi(s.substr(sep + 1), &p) || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

std::string Str(const json& r, const char* key) {
  auto it = r.find(key);
  return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t TimeOf(const json& r, const char* key) {
  absl::StatusOr<int64_t> t = ParseTime(Str(r, key));
  return t.ok() ? *t : -1;
}

Holder FromRecord(const json& r, const char* record) {
  Holder h;
  h.source = "event_log";
  h.record = record;
  h.island = Str(r, "island");
  h.ns = Str(r, "namespace");
  h.name = Str(r, "pod");
  h.uid = Str(r, "uid");
  h.pod_ip = Str(r, "pod_ip");
  h.proto = Str(r, "proto");
  h.inside = Str(r, "inside");
  h.external = Str(r, "external");
  h.remote = Str(r, "remote");
  if (std::string(record) == "port_block") {
    h.external = absl::StrCat(h.external, ":", r.value("port_min", 0), "-", r.value("port_max", 0));
    h.inside = h.pod_ip;
  } else if (std::string(record) == "mapping") {
    h.inside = h.pod_ip;
  }
  return h;
}

}  // namespace

absl::StatusOr<int64_t> ParseTime(std::string_view s) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("time \"", std::string(s), "\" ", std::string(why),
                     "; write RFC 3339, e.g. \"2026-11-26T10:15:00Z\""));
  };
  int64_t y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return bad("is not YYYY-MM-DDTHH:MM:SS");
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || sec > 60) {
    return bad("has a field out of range");
  }
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return bad("has an empty fraction");
  }
  int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad("has a bad UTC offset");
    }
    offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return bad("has no time zone (end it with Z or +HH:MM)");
  }
  if (pos != s.size()) return bad("has trailing characters");
  const int64_t days = DaysFromCivil(y, mo, d);
  return ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms;
}

std::string FormatTime(int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  const int64_t ms = unix_ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const int64_t rem = secs - days * 86400;
  // Civil date from days (inverse of DaysFromCivil).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, rem / 3600,
                         rem / 60 % 60, rem % 60, ms);
}

std::string FormatEndpoint(uint32_t ip_be, uint16_t port_be, uint8_t proto) {
  char text[INET_ADDRSTRLEN] = {};
  in_addr a{};
  a.s_addr = ip_be;
  inet_ntop(AF_INET, &a, text, sizeof(text));
  if (proto != 6 && proto != 17 && proto != 1) return text;
  return absl::StrCat(text, proto == 1 ? "#" : ":", ntohs(port_be));
}

std::vector<std::string> EventLogFiles(const std::string& path) {
  std::vector<std::string> rotated;
  std::error_code ec;
  for (int i = 1;; ++i) {
    std::string p = absl::StrCat(path, ".", i);
    if (!std::filesystem::exists(p, ec)) break;
    rotated.push_back(std::move(p));
  }
  std::vector<std::string> out(rotated.rbegin(), rotated.rend());
  if (std::filesystem::exists(path, ec)) out.push_back(path);
  return out;
}

absl::Status ParseLookupTarget(std::string_view text, LookupQuery* q) {
  const std::string s(text);
  if (s.find('#') != std::string::npos ||
      !SplitEndpoint(s, &q->ip, &q->port) ||
      (s.find(':') != std::string::npos && q->port == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text),
                     "\" is not an external address: write IP or IP:PORT (port 1..65535), "
                     "e.g. 203.0.113.9:40123"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Holder>> LookupInLog(const std::string& path, const LookupQuery& q) {
  std::vector<Holder> out;
  // Records still open (create without delete so far), by what identifies them.
  std::map<std::string, std::pair<Holder, int64_t>> open;
  const auto matches = [&](int64_t from, int64_t until) {
    return q.at_ms >= from && (until < 0 || q.at_ms <= until);
  };
  // Only lines that name the address are parsed: a substring search is much cheaper than JSON.
  const std::string needle = absl::StrCat("\"external\":\"", FormatEndpoint(q.ip, 0, 0));
  for (const std::string& file : EventLogFiles(path)) {
    std::ifstream in(file);
    if (!in) return absl::UnavailableError(absl::StrCat(file, ": cannot read the event log"));
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) == std::string::npos) continue;
      json r = json::parse(line, nullptr, false);
      if (!r.is_object()) continue;
      const std::string event = Str(r, "event");
      const char* record = event.starts_with("session_")      ? "session"
                           : event.starts_with("port_block_") ? "port_block"
                           : event.starts_with("mapping_")    ? "mapping"
                                                              : nullptr;
      if (record == nullptr) continue;
      uint32_t ip;
      uint16_t port;
      if (!SplitEndpoint(Str(r, "external"), &ip, &port) || ip != q.ip) continue;
      if (q.port != 0) {
        if (event.starts_with("session_") && port != q.port) continue;
        if (event.starts_with("port_block_") &&
            (q.port < r.value("port_min", 0) || q.port > r.value("port_max", 0))) {
          continue;
        }
      }
      const std::string key = absl::StrCat(record, "|", Str(r, "island"), "|", Str(r, "proto"), "|",
                                           Str(r, "inside"), "|", Str(r, "pod_ip"), "|",
                                           Str(r, "external"), "|", Str(r, "remote"), "|",
                                           r.value("port_min", 0));
      const int64_t t = TimeOf(r, "time");
      if (event == "session_create" || event == "port_block_alloc" || event == "mapping_add") {
        if (!open.contains(key)) open[key] = {FromRecord(r, record), t};
        continue;
      }
      // The closing record carries when its span began.
      const int64_t from = TimeOf(r, event == "session_delete"      ? "created"
                                     : event == "port_block_release" ? "allocated"
                                                                     : "since");
      Holder h = FromRecord(r, record);
      h.from_ms = from >= 0 ? from : t;
      auto it = open.find(key);
      if (it != open.end()) {
        // The opening record has the exact start (a delete knows its age to the second only).
        if (it->second.second >= 0) h.from_ms = it->second.second;
        // The pod may be gone by the time its session ends: the opening record names it.
        if (h.name.empty()) {
          h.ns = it->second.first.ns;
          h.name = it->second.first.name;
          h.uid = it->second.first.uid;
        }
        open.erase(it);
      }
      h.until_ms = t;
      if (matches(h.from_ms, h.until_ms)) out.push_back(std::move(h));
    }
  }
  for (auto& [key, v] : open) {
    Holder& h = v.first;
    h.from_ms = v.second;
    h.until_ms = -1;
    if (matches(h.from_ms, -1)) out.push_back(std::move(h));
  }
  return out;
}

std::string RenderLookup(std::string_view target, const LookupQuery& q,
                         const std::vector<Holder>& holders, bool as_json) {
  if (as_json) {
    json j = {
        {"query", std::string(target)}, {"at", FormatTime(q.at_ms)}, {"holders", json::array()}};
    for (const Holder& h : holders) {
      j["holders"].push_back(
          {{"source", h.source},
           {"record", h.record},
           {"island", h.island},
           {"namespace", h.ns},
           {"pod", h.name},
           {"uid", h.uid},
           {"pod_ip", h.pod_ip},
           {"proto", h.proto},
           {"inside", h.inside},
           {"external", h.external},
           {"remote", h.remote},
           {"from", FormatTime(h.from_ms)},
           {"until", h.until_ms < 0 ? json(nullptr) : json(FormatTime(h.until_ms))}});
    }
    return j.dump(2) + "\n";
  }
  if (holders.empty()) {
    return absl::StrCat("nobody held ", std::string(target), " at ", FormatTime(q.at_ms),
                        " (as far as the live table and the event log know)\n");
  }
  std::string out =
      absl::StrCat(std::string(target), " at ", FormatTime(q.at_ms), " was held by:\n");
  for (const Holder& h : holders) {
    const std::string who = h.name.empty() ? "unknown pod"
                                           : absl::StrCat(h.ns.empty() ? "" : h.ns + "/", h.name,
                                                          h.uid.empty() ? "" : " uid " + h.uid);
    absl::StrAppend(&out, "  island ", h.island, " ", who, " ", h.inside,
                    h.proto.empty() ? "" : " " + h.proto, " -> ", h.external,
                    h.remote.empty() ? "" : " <-> " + h.remote, "  from ", FormatTime(h.from_ms),
                    " until ",
                    h.until_ms < 0 ? std::string("(still held)") : FormatTime(h.until_ms), "  [",
                    h.record, ", ", h.source, "]\n");
  }
  return out;
}

}  // namespace natgw::telemetry
