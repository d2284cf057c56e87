// Kubernetes JSON in the API server's wire shape for the list+watch tests: minimal pods, lists,
// watch events and Status objects.
#ifndef NATGW_TESTS_CONTROL_KUBE_TEST_JSON_H_
#define NATGW_TESTS_CONTROL_KUBE_TEST_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace natgw::control::kube::testjson {

inline std::string Pod(const std::string& name, const std::string& rv, const std::string& ip) {
  return absl::StrCat(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":")", name,
                      R"(","namespace":"shop","uid":"uid-)", name, R"(","resourceVersion":")", rv,
                      R"("},"spec":{"nodeName":"node-1"},"status":{"phase":"Running","podIP":")",
                      ip, R"("}})");
}

inline std::string PodList(const std::string& rv, const std::string& cont,
                           const std::vector<std::string>& items) {
  return absl::StrCat(R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":")", rv,
                      R"(")", cont.empty() ? "" : absl::StrCat(R"(,"continue":")", cont, "\""),
                      R"(},"items":[)", absl::StrJoin(items, ","), "]}");
}

inline std::string Event(const std::string& type, const std::string& object) {
  return absl::StrCat(R"({"type":")", type, R"(","object":)", object, "}");
}

inline std::string Bookmark(const std::string& rv) {
  return Event("BOOKMARK",
               absl::StrCat(R"({"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":")",
                            rv, R"("}})"));
}

inline std::string Status(int code, const std::string& reason, const std::string& message) {
  return absl::StrCat(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")", message,
      R"(","reason":")", reason, R"(","code":)", code, "}");
}

inline std::string ErrorEvent(int code, const std::string& message) {
  return Event("ERROR", Status(code, code == 410 ? "Expired" : "InternalError", message));
}

}  // namespace natgw::control::kube::testjson

#endif  // NATGW_TESTS_CONTROL_KUBE_TEST_JSON_H_
