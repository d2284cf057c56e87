// The kubernetes source over HTTPS against the scripted API server: a throwaway CA and server /
// client certificates made with openssl; CA verification, a wrong CA refused with a clear message,
// bearer tokens (static, and an in-cluster token file that rotates), client certificates from
// kubeconfig *-data fields.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/control/kube_api_source.h"
#include "tests/control/fake_apiserver.h"
#include "tests/control/kube_test_json.h"

namespace natgw::control {
namespace {

using json = nlohmann::json;
using testing::AtLeast;
using testing::CollectUntil;
using testing::FakeApiServer;
using testing::StartSource;
using testing::TempDir;
namespace tj = kube::testjson;

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class KubeApiTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir;
    have_openssl_ = std::system("command -v openssl >/dev/null 2>&1") == 0;
    if (!have_openssl_) return;
    std::string d = pki_->path();
    const char* ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    pki_->Write("server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    pki_->Write("client.ext", "extendedKeyUsage=clientAuth\n");
    std::string script = absl::StrCat(
        "cd ", d, " && exec >openssl.log 2>&1", " && openssl req -x509 ", ec,
        " -keyout ca.key -out ca.crt -days 2 -subj /CN=natgw-test-ca", " && openssl req -x509 ", ec,
        " -keyout other.key -out other.crt -days 2 -subj /CN=other-ca", " && openssl req ", ec,
        " -keyout server.key -out server.csr -subj /CN=127.0.0.1",
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial",
        " -out server.crt -days 2 -extfile server.ext", " && openssl req ", ec,
        " -keyout client.key -out client.csr -subj /CN=natgw-client",
        " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial",
        " -out client.crt -days 2 -extfile client.ext");
    pki_ok_ = std::system(script.c_str()) == 0;
  }
  static void TearDownTestSuite() { delete pki_; }
  void SetUp() override {
    if (!have_openssl_) GTEST_SKIP() << "no openssl command (scripts/install-deps.sh installs it)";
    ASSERT_TRUE(pki_ok_) << "openssl failed: " << Slurp(pki_->File("openssl.log"));
  }

  static std::vector<std::string> ServerTls(bool client_ca = false) {
    std::vector<std::string> a = {"--cert", pki_->File("server.crt"), "--key",
                                  pki_->File("server.key")};
    if (client_ca) a.insert(a.end(), {"--client-ca", pki_->File("ca.crt")});
    return a;
  }
  static json ListAndHold() {
    return json::array({{{"match", "/api/v1/pods?limit="},
                         {"body", tj::PodList("100", "", {tj::Pod("a", "90", "10.0.0.1")})}}});
  }
  KubeApiConfig Config(const std::string& kubeconfig) {
    KubeApiConfig c;
    c.kubeconfig = kubeconfig;
    c.kinds = {kube::Kind::kPod};
    c.watch_timeout_min_s = c.watch_timeout_max_s = 5;
    c.backoff_min_ms = 50;
    c.backoff_max_ms = 200;
    return c;
  }
  std::string Kubeconfig(const TempDir& dir, const FakeApiServer& server,
                         const std::string& cluster, const std::string& user) {
    return dir.Write(
        "config",
        absl::StrCat("apiVersion: v1\nkind: Config\n", "current-context: c\ncontexts:\n",
                     "- name: c\n  context: {cluster: k, user: u}\n",
                     "clusters:\n- name: k\n  cluster:\n    server: ", server.url("https"), "\n",
                     cluster, "users:\n- name: u\n  user:\n", user));
  }
  // Lists through `kubeconfig` and sees the watch start (the server holds it), then stops.
  void ExpectListedAndWatching(const std::string& kubeconfig, const FakeApiServer& server) {
    UpdateQueue q;
    auto src = StartSource(Config(kubeconfig), &q);
    ASSERT_NE(src, nullptr);
    auto all = CollectUntil(q, AtLeast(1));
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].type, SourceUpdate::Type::kReplace);
    EXPECT_TRUE(all[0].connected);
    CollectUntil(q, [&](auto&) { return server.Requests().size() >= 2; });
    src->Stop();
    EXPECT_EQ(server.Requests().size(), 2u);  // list, then the watch the server holds
  }
  static std::string B64File(const std::string& name) {
    return absl::Base64Escape(Slurp(pki_->File(name)));
  }

  static TempDir* pki_;
  static bool pki_ok_;
  static bool have_openssl_;
};

TempDir* KubeApiTlsTest::pki_ = nullptr;
bool KubeApiTlsTest::pki_ok_ = false;
bool KubeApiTlsTest::have_openssl_ = false;

TEST_F(KubeApiTlsTest, CaFileVerifiesServerAndBearerTokenIsSent) {
  TempDir dir;
  FakeApiServer server(dir, ListAndHold(), ServerTls());
  ASSERT_GT(server.port(), 0);
  std::string kc =
      Kubeconfig(dir, server, "    certificate-authority: " + pki_->File("ca.crt") + "\n",
                 "    token: s3cret-t0ken\n");
  ExpectListedAndWatching(kc, server);
  auto reqs = server.Requests();
  for (const auto& r : reqs) EXPECT_EQ(r.authorization, "Bearer s3cret-t0ken");
  EXPECT_EQ(reqs[0].client_cn, "");
}

TEST_F(KubeApiTlsTest, KubeconfigDataFieldsWithClientCertificate) {
  TempDir dir;
  FakeApiServer server(dir, ListAndHold(), ServerTls(/*client_ca=*/true));
  std::string kc = Kubeconfig(
      dir, server, absl::StrCat("    certificate-authority-data: ", B64File("ca.crt"), "\n"),
      absl::StrCat("    client-certificate-data: ", B64File("client.crt"),
                   "\n    client-key-data: ", B64File("client.key"), "\n"));
  ExpectListedAndWatching(kc, server);
  auto reqs = server.Requests();
  ASSERT_GE(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].client_cn, "natgw-client");
  EXPECT_EQ(reqs[0].authorization, "");
}

TEST_F(KubeApiTlsTest, WrongCaIsRefusedWithAClearMessage) {
  TempDir dir;
  FakeApiServer server(dir, ListAndHold(), ServerTls());
  std::string kc = Kubeconfig(
      dir, server, absl::StrCat("    certificate-authority-data: ", B64File("other.crt"), "\n"),
      "    token: s3cret-t0ken\n");
  UpdateQueue q;
  auto src = StartSource(Config(kc), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(2));
  src->Stop();
  ASSERT_GE(all.size(), 2u);
  for (const auto& u : all) {
    EXPECT_EQ(u.type, SourceUpdate::Type::kStatus);
    EXPECT_FALSE(u.connected);
    EXPECT_NE(u.message.find("list of Pods: " + server.url("https") + ": SSL certificate problem"),
              std::string::npos)
        << u.message;
    EXPECT_EQ(u.message.find("s3cret"), std::string::npos);
  }
  EXPECT_FALSE(src->status().connected);
  EXPECT_TRUE(server.Requests().empty());  // the token never left
}

TEST_F(KubeApiTlsTest, InsecureSkipTlsVerify) {
  TempDir dir;
  FakeApiServer server(dir, ListAndHold(), ServerTls());
  std::string kc = Kubeconfig(dir, server, "    insecure-skip-tls-verify: true\n", "    {}\n");
  ExpectListedAndWatching(kc, server);
}

TEST_F(KubeApiTlsTest, InClusterTokenIsReReadOnReconnect) {
  TempDir dir;
  FakeApiServer server(
      dir,
      json::array({{{"match", "/api/v1/pods?limit="}, {"body", tj::PodList("100", "", {})}},
                   {{"match", "/api/v1/pods?watch=1&resourceVersion=100&"},
                    {"chunks", {tj::Event("ADDED", tj::Pod("a", "101", "10.0.0.1")) + "\n"}},
                    {"delay_ms", 300}}}),
      ServerTls());
  dir.Write("token", "tok-1\n");
  std::filesystem::copy_file(pki_->File("ca.crt"), dir.File("ca.crt"));
  dir.Write("namespace", "natgw-system");
  setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", std::to_string(server.port()).c_str(), 1);
  KubeApiConfig c = Config("");
  c.in_cluster = true;
  c.in_cluster_dir = dir.path();
  UpdateQueue q;
  auto src = StartSource(c, &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(1));
  // Rotated while the first watch is open (the server waits 300 ms before its event).
  all = CollectUntil(q, [&](auto&) { return server.Requests().size() >= 2; });
  dir.Write("token", "tok-2\n");
  for (auto& u : CollectUntil(q, AtLeast(all.empty() ? 1 : 0))) all.push_back(std::move(u));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].type, SourceUpdate::Type::kUpsert);
  CollectUntil(q, [&](auto&) { return server.Requests().size() >= 3; });
  src->Stop();
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].authorization, "Bearer tok-1");
  EXPECT_EQ(reqs[1].authorization, "Bearer tok-1");
  EXPECT_EQ(reqs[2].authorization, "Bearer tok-2");
  EXPECT_EQ(reqs[2].path,
            "/api/v1/pods?watch=1&resourceVersion=101&allowWatchBookmarks=true&timeoutSeconds=5");
}

}  // namespace
}  // namespace natgw::control
