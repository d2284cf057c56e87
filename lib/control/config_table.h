// One TOML table of a conf file, seen by the reader (config_reader.cc): typed accessors that turn
// every mistake (unknown key, wrong type, bad address, out-of-range number) into an error that
// names the line. An absent optional key leaves the output untouched, so defaults stay.
#ifndef NATGW_LIB_CONTROL_CONFIG_TABLE_H_
#define NATGW_LIB_CONTROL_CONFIG_TABLE_H_

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "lib/control/config_internal.h"

namespace natgw::control::internal {

// absl::string_view is not std::string_view in Debian's Abseil: convert at the toml++ boundary.
inline absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }
inline int LineOf(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
const char* TypeName(const toml::node& n);  // "an integer", "a string", ...

class Table {
 public:
  // `section` starts every message ("interface", "service backend").
  Table(const Errors& errors, const toml::table& t, std::string section);

  const Lines& lines() const { return lines_; }
  bool Has(absl::string_view key) const { return t_.contains(Std(key)); }
  // An error at the line of `key` (of the table if the key is absent).
  absl::Status Error(absl::string_view key, absl::string_view what, absl::string_view fix) const;

  // Refuses keys not in `known`, the first one in the file first, suggesting the closest match.
  absl::Status Allow(std::initializer_list<absl::string_view> known) const;
  // Refuses a table without `key`; `example` shows what to add.
  absl::Status Require(absl::string_view key, absl::string_view example) const;

  absl::Status String(absl::string_view key, std::string* out) const;
  absl::Status Bool(absl::string_view key, bool* out) const;
  // An integer in [min, max]; `unit` follows the value in messages (" s").
  template <typename T>
  absl::Status Integer(absl::string_view key, int64_t min, int64_t max, T* out,
                       absl::string_view unit = "") const;
  // A number (integer or float) in [min, max].
  absl::Status Number(absl::string_view key, double min, double max, double* out,
                      absl::string_view unit = "") const;
  // A string that is one of `choices`.
  absl::Status Choice(absl::string_view key, std::initializer_list<absl::string_view> choices,
                      std::string* out) const;
  // An array of strings, each with its line.
  absl::Status StringArray(absl::string_view key, std::vector<std::pair<std::string, int>>* out,
                           absl::string_view example) const;
  // A single unicast address ("192.0.2.1", no prefix), network order.
  absl::Status Address(absl::string_view key, uint32_t* out) const;
  // A CIDR with zero host bits ("10.0.0.0/16").
  absl::Status Cidr(absl::string_view key, nat::Cidr* out) const;
  // A non-empty array of CIDRs (with `allow_single`, "192.0.2.7" means "192.0.2.7/32"); `lines`,
  // if not null, receives the line of each.
  absl::Status CidrArray(absl::string_view key, bool allow_single, std::vector<nat::Cidr>* out,
                         std::vector<int>* lines) const;
  // A table of string values ({ app = "web", tier = "front" }).
  absl::Status StringMap(absl::string_view key, std::map<std::string, std::string>* out,
                         absl::string_view example) const;
  // A list of tables, written inline ([{...}, {...}]) or as [[section.key]].
  absl::Status Tables(absl::string_view key, std::vector<const toml::table*>* out,
                      absl::string_view example) const;

 private:
  absl::Status WrongType(absl::string_view key, const toml::node& n, absl::string_view want,
                         absl::string_view fix) const;
  absl::Status ParseCidr(absl::string_view key, absl::string_view text, int line, bool allow_single,
                         nat::Cidr* out) const;

  const Errors& errors_;
  const toml::table& t_;
  std::string section_;
  Lines lines_;
};

template <typename T>
absl::Status Table::Integer(absl::string_view key, int64_t min, int64_t max, T* out,
                            absl::string_view unit) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  if (!n->is_integer()) {
    return WrongType(key, *n, "an integer", "write a whole number without quotes");
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    return Error(key, absl::StrCat("'", key, "' is ", v, unit, ", out of range ", min, "..", max),
                 "pick a value in that range");
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

}  // namespace natgw::control::internal

#endif  // NATGW_LIB_CONTROL_CONFIG_TABLE_H_
