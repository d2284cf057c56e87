// Where the Kubernetes API is and how to authenticate to it: from a kubeconfig file, from the
// in-cluster service account, or a plain URL (kubectl proxy, no authentication).
//
// Certificates, keys and CA bundles are held in memory (PEM) and handed to libcurl as blobs:
// nothing secret is written to disk. A token file is re-read on every connection (projected
// service-account tokens rotate). Secrets never appear in messages or logs.
#ifndef NATGW_LIB_CONTROL_KUBE_CREDENTIALS_H_
#define NATGW_LIB_CONTROL_KUBE_CREDENTIALS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace natgw::control::kube {

struct KubeCredentials {
  std::string server;  // https://host:port or http://127.0.0.1:8001, no trailing '/'
  std::string ca_pem;  // empty: the system's CA store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // optional SNI / verification name
  std::string token;            // static bearer token
  std::string token_file;       // re-read per connection; wins over `token`
  std::string client_cert_pem;  // client certificate (with client_key_pem)
  std::string client_key_pem;
  std::string ns;      // the context's (or service account's) namespace, if any
  std::string origin;  // "kubeconfig /path (context c)", "in-cluster", "url": messages

  // The bearer token to send now (re-reads token_file); empty: none.
  absl::StatusOr<std::string> BearerToken() const;
};

// Reads a kubeconfig (YAML). `context` empty: its current-context. Relative file paths are
// relative to the kubeconfig's directory. Unsupported auth (exec plugins, auth-provider) is
// refused with a message naming it.
absl::StatusOr<KubeCredentials> LoadKubeconfig(const std::string& path,
                                               const std::string& context = "");

// The in-cluster service account: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
// `sa_dir`/{token,ca.crt,namespace}. `host`/`port` empty: from the environment.
absl::StatusOr<KubeCredentials> LoadInCluster(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
    std::string host = {}, std::string port = {});

// A plain URL with no authentication (kubectl proxy) or with the system CAs.
absl::StatusOr<KubeCredentials> FromUrl(const std::string& url);

}  // namespace natgw::control::kube

#endif  // NATGW_LIB_CONTROL_KUBE_CREDENTIALS_H_
