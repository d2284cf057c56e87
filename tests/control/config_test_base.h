// The smallest conf file that loads, shared by the conf parser's tests: two interfaces and an
// island, kBaseLines lines, so a section appended to it starts on line kBaseLines + 1.
#ifndef NATGW_TESTS_CONTROL_CONFIG_TEST_BASE_H_
#define NATGW_TESTS_CONTROL_CONFIG_TEST_BASE_H_

namespace natgw::control::conftest {

inline constexpr char kBase[] =
    "[[interface]]\n"
    "name = \"in\"\n"
    "device = \"net_tap0\"\n"
    "role = \"inside\"\n"
    "island = \"c1\"\n"
    "address = \"10.0.0.1/16\"\n"
    "[[interface]]\n"
    "name = \"out\"\n"
    "device = \"net_tap1\"\n"
    "role = \"outside\"\n"
    "address = \"192.0.2.1/24\"\n"
    "[[island]]\n"
    "name = \"c1\"\n"
    "id = 1\n"
    "pod_cidrs = [\"10.0.0.0/16\"]\n";
inline constexpr int kBaseLines = 15;

}  // namespace natgw::control::conftest

#endif  // NATGW_TESTS_CONTROL_CONFIG_TEST_BASE_H_
