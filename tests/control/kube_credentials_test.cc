// Credentials from kubeconfig files, the in-cluster service account and plain URLs.
#include "lib/control/kube_credentials.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace natgw::control::kube {
namespace {

class KubeCredentialsTest : public ::testing::Test {
 protected:
  KubeCredentialsTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "natgw-cred-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~KubeCredentialsTest() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  // A kubeconfig whose current context "island" uses cluster c1 and user u1.
  std::string Kubeconfig(const std::string& cluster, const std::string& user) {
    return Write("kubeconfig", absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: island
contexts:
- name: island
  context: {cluster: c1, user: u1, namespace: shop}
- name: plugin
  context: {cluster: c1, user: exec-user}
- name: nowhere
  context: {cluster: c9, user: u1}
clusters:
- name: c1
  cluster:
)",
                                            cluster, R"(
users:
- name: u1
  user:
)",
                                            user, R"(
- name: exec-user
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: get-token}
)"));
  }
  std::string dir_;
};

TEST_F(KubeCredentialsTest, CurrentContextWithFilesRelativeToTheKubeconfig) {
  Write("ca.crt", "CA PEM");
  Write("client.crt", "CERT PEM");
  Write("client.key", "KEY PEM");
  Write("token", "  tok-1\n");
  auto c = LoadKubeconfig(Kubeconfig(
      "    server: https://10.0.0.1:6443/\n    certificate-authority: ca.crt",
      "    tokenFile: token\n    client-certificate: client.crt\n    client-key: " + dir_ +
          "/client.key"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT PEM");
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_EQ(c->ns, "shop");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->origin, absl::StrCat("kubeconfig ", dir_, "/kubeconfig (context island)"));
  EXPECT_EQ(*c->BearerToken(), "tok-1");
  Write("token", "tok-2");  // rotated
  EXPECT_EQ(*c->BearerToken(), "tok-2");
}

TEST_F(KubeCredentialsTest, DataFieldsAreDecodedInMemory) {
  auto c = LoadKubeconfig(Kubeconfig(
      absl::StrCat("    server: https://api:6443\n    certificate-authority-data: ",
                   absl::Base64Escape("CA DATA"), "\n    insecure-skip-tls-verify: true"),
      absl::StrCat("    token: abc\n    client-certificate-data: ", absl::Base64Escape("CERT"),
                   "\n    client-key-data: ", absl::Base64Escape("KEY"))));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_pem, "CA DATA");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(*c->BearerToken(), "abc");
}

TEST_F(KubeCredentialsTest, RefusalsNameTheProblemAndNoSecret) {
  std::string path = Kubeconfig("    server: https://api:6443",
                                "    token: sup3r-s3cret\n    client-key-data: c2VjcmV0LWtleQ==");
  auto c = LoadKubeconfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("has a client certificate or key but not both"),
            std::string::npos)
      << c.status();
  c = LoadKubeconfig(path, "plugin");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("exec-user"), std::string::npos);
  c = LoadKubeconfig(path, "nowhere");
  EXPECT_EQ(c.status().message(), absl::StrCat("kubeconfig ", path, ": cluster \"c9\" not found"));
  c = LoadKubeconfig(path, "absent");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  c = LoadKubeconfig(Kubeconfig(
      "    server: https://api:6443\n    certificate-authority-data: not*base64!", "    token: x"));
  EXPECT_NE(c.status().message().find("certificate-authority-data is not valid base64"),
            std::string::npos);
  c = LoadKubeconfig(Kubeconfig("    server: api:6443", "    token: x"));
  EXPECT_NE(c.status().message().find("must start with https://"), std::string::npos);
  c = LoadKubeconfig(Write("broken", "users:\n- name: u\n  user: {token: sup3r-s3cret\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("broken:"), std::string::npos) << c.status();
  EXPECT_EQ(c.status().message().find("sup3r-s3cret"), std::string::npos) << c.status();
  c = LoadKubeconfig(dir_ + "/missing");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  c = LoadKubeconfig(Kubeconfig("    server: https://api:6443\n    certificate-authority: nope.crt",
                                "    token: x"));
  EXPECT_NE(c.status().message().find("nope.crt"), std::string::npos);
}

TEST_F(KubeCredentialsTest, InClusterServiceAccount) {
  Write("token", "sa-token\n");
  Write("ca.crt", "SA CA");
  Write("namespace", "natgw-system\n");
  auto c = LoadInCluster(dir_, "10.96.0.1", "443");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_pem, "SA CA");
  EXPECT_EQ(c->ns, "natgw-system");
  EXPECT_EQ(*c->BearerToken(), "sa-token");
  c = LoadInCluster(dir_, "fd00::1", "443");
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  unsetenv("KUBERNETES_SERVICE_HOST");
  c = LoadInCluster(dir_);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  c = LoadInCluster(dir_ + "/none", "10.96.0.1", "443");
  EXPECT_FALSE(c.ok());
}

TEST_F(KubeCredentialsTest, PlainUrl) {
  auto c = FromUrl("http://127.0.0.1:8001/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server, "http://127.0.0.1:8001");
  EXPECT_EQ(*c->BearerToken(), "");
  EXPECT_FALSE(FromUrl("ftp://x").ok());
}

}  // namespace
}  // namespace natgw::control::kube
