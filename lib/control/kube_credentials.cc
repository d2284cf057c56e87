#include "lib/control/kube_credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "yaml-cpp/yaml.h"

namespace natgw::control::kube {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

// The entry named `name` of a kubeconfig list (clusters, users, contexts), its `field` map; a
// null node when absent.
YAML::Node Named(const YAML::Node& root, const char* list, const std::string& name,
                 const char* field) {
  YAML::Node l = root[list];
  if (!l || !l.IsSequence()) return YAML::Node();
  for (const YAML::Node& e : l) {
    if (e["name"] && e["name"].as<std::string>() == name && e[field].IsMap()) return e[field];
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

// PEM from `key`-data (base64) or from the file named by `key`; `what` names it in errors.
absl::Status Pem(const YAML::Node& n, const std::string& key, const std::string& dir,
                 const char* what, std::string* out) {
  std::string data = Str(n, (key + "-data").c_str());
  if (!data.empty()) {
    if (!absl::Base64Unescape(data, out)) {
      return absl::InvalidArgumentError(absl::StrCat(key, "-data is not valid base64"));
    }
    return absl::OkStatus();
  }
  std::string file = Str(n, key.c_str());
  if (file.empty()) return absl::OkStatus();
  auto content = ReadFile(Resolve(dir, file), what);
  if (!content.ok()) return content.status();
  *out = *std::move(content);
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeServer(const std::string& url) {
  std::string s(absl::StripAsciiWhitespace(url));
  while (absl::EndsWith(s, "/")) s.pop_back();
  if (!absl::StartsWith(s, "https://") && !absl::StartsWith(s, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("server \"", s, "\" must start with https:// or http://"));
  }
  return s;
}

absl::StatusOr<KubeCredentials> FromKubeconfig(const YAML::Node& root, const std::string& path,
                                               const std::string& context_arg) {
  std::string where = absl::StrCat("kubeconfig ", path);
  std::string context = context_arg;
  if (context.empty()) context = Str(root, "current-context");
  if (context.empty())
    return absl::InvalidArgumentError(absl::StrCat(where, ": no current-context"));
  YAML::Node ctx = Named(root, "contexts", context, "context");
  if (!ctx.IsMap()) {
    return absl::NotFoundError(absl::StrCat(where, ": context \"", context, "\" not found"));
  }
  std::string cluster_name = Str(ctx, "cluster");
  std::string user_name = Str(ctx, "user");
  YAML::Node cluster = Named(root, "clusters", cluster_name, "cluster");
  if (!cluster.IsMap()) {
    return absl::NotFoundError(absl::StrCat(where, ": cluster \"", cluster_name, "\" not found"));
  }
  std::string dir;
  if (size_t slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);

  KubeCredentials c;
  c.origin = absl::StrCat(where, " (context ", context, ")");
  c.ns = Str(ctx, "namespace");
  auto server = NormalizeServer(Str(cluster, "server"));
  if (!server.ok())
    return absl::InvalidArgumentError(absl::StrCat(c.origin, ": ", server.status().message()));
  c.server = *server;
  c.tls_server_name = Str(cluster, "tls-server-name");
  c.insecure_skip_tls_verify =
      cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
  absl::Status st = Pem(cluster, "certificate-authority", dir, "certificate-authority", &c.ca_pem);
  if (!st.ok())
    return absl::InvalidArgumentError(absl::StrCat(c.origin, ": cluster ", st.message()));

  YAML::Node user = user_name.empty() ? YAML::Node() : Named(root, "users", user_name, "user");
  if (!user_name.empty() && !user.IsMap()) {
    return absl::NotFoundError(absl::StrCat(where, ": user \"", user_name, "\" not found"));
  }
  if (user.IsMap()) {
    if (user["exec"] || user["auth-provider"]) {
      return absl::UnimplementedError(
          absl::StrCat(c.origin, ": user \"", user_name,
                       "\" uses an exec/auth-provider plugin; give natgw a token, tokenFile or "
                       "client certificate"));
    }
    c.token = Str(user, "token");
    std::string token_file = Str(user, "tokenFile");
    if (!token_file.empty()) c.token_file = Resolve(dir, token_file);
    st = Pem(user, "client-certificate", dir, "client-certificate", &c.client_cert_pem);
    if (st.ok()) st = Pem(user, "client-key", dir, "client-key", &c.client_key_pem);
    if (!st.ok())
      return absl::InvalidArgumentError(absl::StrCat(c.origin, ": user ", st.message()));
    if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          c.origin, ": user \"", user_name, "\" has a client certificate or key but not both"));
    }
  }
  return c;
}

}  // namespace

absl::StatusOr<std::string> KubeCredentials::BearerToken() const {
  if (token_file.empty()) return token;
  auto t = ReadFile(token_file, "token file");
  if (!t.ok()) return t.status();
  return std::string(absl::StripAsciiWhitespace(*t));
}

absl::StatusOr<KubeCredentials> LoadKubeconfig(const std::string& path,
                                               const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat("cannot read kubeconfig ", path));
  } catch (const YAML::Exception& e) {
    // Only the position and the parser's reason: never the text (it may hold secrets).
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": ", e.msg));
  }
  try {
    return FromKubeconfig(root, path, context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", e.msg));
  }
}

absl::StatusOr<KubeCredentials> LoadInCluster(const std::string& sa_dir, std::string host,
                                              std::string port) {
  if (host.empty() && getenv("KUBERNETES_SERVICE_HOST") != nullptr) {
    host = getenv("KUBERNETES_SERVICE_HOST");
  }
  if (port.empty() && getenv("KUBERNETES_SERVICE_PORT") != nullptr) {
    port = getenv("KUBERNETES_SERVICE_PORT");
  }
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a pod?)");
  }
  KubeCredentials c;
  c.origin = "in-cluster service account";
  bool v6 = host.find(':') != std::string::npos;
  c.server = absl::StrCat("https://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
  c.token_file = sa_dir + "/token";
  auto ca = ReadFile(sa_dir + "/ca.crt", "in-cluster CA");
  if (!ca.ok()) return ca.status();
  c.ca_pem = *std::move(ca);
  auto token = c.BearerToken();
  if (!token.ok()) return token.status();
  if (auto ns = ReadFile(sa_dir + "/namespace", "namespace"); ns.ok()) {
    c.ns = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return c;
}

absl::StatusOr<KubeCredentials> FromUrl(const std::string& url) {
  auto server = NormalizeServer(url);
  if (!server.ok()) return server.status();
  KubeCredentials c;
  c.server = *server;
  c.origin = absl::StrCat("url ", c.server);
  return c;
}

}  // namespace natgw::control::kube
