#include "lib/control/config_table.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace natgw::control::internal {

const char* TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Table::Table(const Errors& errors, const toml::table& t, std::string section)
    : errors_(errors), t_(t), section_(std::move(section)) {
  lines_.table = LineOf(t);
  for (auto&& [key, node] : t) {
    lines_.keys[std::string(Absl(key.str()))] = static_cast<int>(key.source().begin.line);
  }
}

absl::Status Table::Error(absl::string_view key, absl::string_view what,
                          absl::string_view fix) const {
  return errors_.At(lines_(key), section_, what, fix);
}

absl::Status Table::WrongType(absl::string_view key, const toml::node& n, absl::string_view want,
                              absl::string_view fix) const {
  return Error(key, absl::StrCat("'", key, "' must be ", want, ", not ", TypeName(n)), fix);
}

absl::Status Table::Allow(std::initializer_list<absl::string_view> known) const {
  std::vector<absl::string_view> options(known);
  const toml::key* first = nullptr;
  for (auto&& [key, node] : t_) {
    if (std::find(options.begin(), options.end(), Absl(key.str())) != options.end()) continue;
    if (first == nullptr || key.source().begin.line < first->source().begin.line) first = &key;
  }
  if (first == nullptr) return absl::OkStatus();
  absl::string_view name = Absl(first->str());
  absl::string_view close = ClosestMatch(name, options);
  std::string fix = close.empty() ? "remove it" : absl::StrCat("did you mean '", close, "'?");
  return Error(name, absl::StrCat("unknown key '", name, "'"),
               absl::StrCat(fix, " (known keys: ", absl::StrJoin(options, ", "), ")"));
}

absl::Status Table::Require(absl::string_view key, absl::string_view example) const {
  if (Has(key)) return absl::OkStatus();
  return Error(key, absl::StrCat("missing key '", key, "'"), absl::StrCat("add ", example));
}

absl::Status Table::String(absl::string_view key, std::string* out) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  if (!n->is_string()) return WrongType(key, *n, "a string", "put the value in double quotes");
  *out = n->as_string()->get();
  return absl::OkStatus();
}

absl::Status Table::Number(absl::string_view key, double min, double max, double* out,
                           absl::string_view unit) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  double v;
  if (n->is_integer()) {
    v = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    v = n->as_floating_point()->get();
  } else {
    return WrongType(key, *n, "a number", "write a number without quotes, e.g. 100 or 0.5");
  }
  if (!(v >= min && v <= max)) {
    return Error(key, absl::StrCat("'", key, "' is ", v, unit, ", out of range ", min, "..", max),
                 "pick a value in that range");
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status Table::Bool(absl::string_view key, bool* out) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  if (!n->is_boolean()) return WrongType(key, *n, "a boolean", "write true or false, unquoted");
  *out = n->as_boolean()->get();
  return absl::OkStatus();
}

absl::Status Table::Choice(absl::string_view key, std::initializer_list<absl::string_view> choices,
                           std::string* out) const {
  std::string v;
  NATGW_CONFIG_RETURN_IF_ERROR(String(key, &v));
  if (!Has(key)) return absl::OkStatus();
  if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
    return Error(key, absl::StrCat("'", key, "' is \"", v, "\""),
                 absl::StrCat("use one of \"", absl::StrJoin(choices, "\", \""), "\""));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status Table::StringArray(absl::string_view key,
                                std::vector<std::pair<std::string, int>>* out,
                                absl::string_view example) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  std::string fix = absl::StrCat("write a list of quoted strings, e.g. ", key, " = ", example);
  if (!n->is_array()) return WrongType(key, *n, "an array of strings", fix);
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_string()) {
      return errors_.At(LineOf(e), section_,
                        absl::StrCat("'", key, "' must hold strings, not ", TypeName(e)), fix);
    }
    out->emplace_back(e.as_string()->get(), LineOf(e));
  }
  return absl::OkStatus();
}

absl::Status Table::Address(absl::string_view key, uint32_t* out) const {
  std::string text;
  NATGW_CONFIG_RETURN_IF_ERROR(String(key, &text));
  if (!Has(key)) return absl::OkStatus();
  uint32_t ip;
  int len;
  if (!ParseIpAndPrefix(text, &ip, &len)) {
    return Error(key, absl::StrCat("'", key, "' = \"", text, "\" is not an IPv4 address"),
                 "write four decimal numbers 0..255, e.g. \"192.0.2.1\"");
  }
  if (len >= 0) {
    return Error(key, absl::StrCat("'", key, "' = \"", text, "\" is a CIDR, not an address"),
                 absl::StrCat("write the address alone: \"", FormatIp(ip), "\""));
  }
  if (ip == 0 || ip == 0xffffffffu) {
    return Error(key, absl::StrCat("'", key, "' = \"", text, "\" is reserved"),
                 "use a unicast address");
  }
  *out = ip;
  return absl::OkStatus();
}

absl::Status Table::ParseCidr(absl::string_view key, absl::string_view text, int line,
                              bool allow_single, nat::Cidr* out) const {
  uint32_t ip;
  int len;
  if (!ParseIpAndPrefix(text, &ip, &len) || (len < 0 && !allow_single)) {
    return errors_.At(line, section_,
                      absl::StrCat("'", key, "' = \"", text, "\" is not a",
                                   allow_single ? "n IPv4 address or" : "n IPv4", " CIDR"),
                      "write an address and a prefix length, e.g. \"10.0.0.0/16\"");
  }
  if (len < 0) len = 32;
  nat::Cidr c = MaskedCidr(ip, len);
  if (c.addr != ip) {
    return errors_.At(line, section_,
                      absl::StrCat("'", key, "' = \"", text, "\" has host bits set"),
                      absl::StrCat("write \"", FormatCidr(c), "\""));
  }
  *out = c;
  return absl::OkStatus();
}

absl::Status Table::Cidr(absl::string_view key, nat::Cidr* out) const {
  std::string text;
  NATGW_CONFIG_RETURN_IF_ERROR(String(key, &text));
  if (!Has(key)) return absl::OkStatus();
  return ParseCidr(key, text, lines_(key), /*allow_single=*/false, out);
}

absl::Status Table::CidrArray(absl::string_view key, bool allow_single, std::vector<nat::Cidr>* out,
                              std::vector<int>* lines) const {
  std::vector<std::pair<std::string, int>> texts;
  NATGW_CONFIG_RETURN_IF_ERROR(StringArray(key, &texts, "[\"10.0.0.0/16\"]"));
  if (Has(key) && texts.empty()) {
    return Error(key, absl::StrCat("'", key, "' is empty"), "list at least one range");
  }
  for (const auto& [text, line] : texts) {
    nat::Cidr c;
    NATGW_CONFIG_RETURN_IF_ERROR(ParseCidr(key, text, line, allow_single, &c));
    out->push_back(c);
    if (lines != nullptr) lines->push_back(line);
  }
  return absl::OkStatus();
}

absl::Status Table::StringMap(absl::string_view key, std::map<std::string, std::string>* out,
                              absl::string_view example) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  std::string fix = absl::StrCat("write a table of quoted strings, e.g. ", key, " = ", example);
  if (!n->is_table()) return WrongType(key, *n, "a table of strings", fix);
  for (auto&& [k, v] : *n->as_table()) {
    if (!v.is_string()) {
      return errors_.At(LineOf(v), section_,
                        absl::StrCat("'", key, ".", Absl(k.str()), "' must be a string, not ",
                                     TypeName(v)),
                        fix);
    }
    (*out)[std::string(k.str())] = v.as_string()->get();
  }
  return absl::OkStatus();
}

absl::Status Table::Tables(absl::string_view key, std::vector<const toml::table*>* out,
                           absl::string_view example) const {
  const toml::node* n = t_.get(Std(key));
  if (n == nullptr) return absl::OkStatus();
  std::string fix = absl::StrCat("write a list of inline tables, e.g. ", key, " = [", example, "]");
  if (!n->is_array()) return WrongType(key, *n, "an array of tables", fix);
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_table()) {
      return errors_.At(LineOf(e), section_,
                        absl::StrCat("'", key, "' must hold tables, not ", TypeName(e)), fix);
    }
    out->push_back(e.as_table());
  }
  return absl::OkStatus();
}

}  // namespace natgw::control::internal
