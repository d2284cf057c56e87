// DPDK leaves a primary process's runtime directory (/var/run/dpdk/PREFIX: its config,
// fbarray and hugepage_info files, about 3 MiB of tmpfs) behind after rte_eal_cleanup(). With a
// --file-prefix per run (tests, benchmarks) they pile up; each program that starts EAL ends it
// with CleanupEal() instead.
#ifndef NATGW_LIB_DATAPLANE_EAL_RUNTIME_H_
#define NATGW_LIB_DATAPLANE_EAL_RUNTIME_H_

#include <rte_eal.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace natgw::dataplane {

// `dir` is rte_eal_get_runtime_dir(), read while EAL ran; call after rte_eal_cleanup(). Removes
// nothing but a directory named like a file prefix inside a "dpdk" directory.
inline void RemoveEalRuntimeDir(const std::string& dir) {
  const std::filesystem::path p(dir);
  if (p.filename().empty() || p.parent_path().filename() != "dpdk") return;
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
}

// rte_eal_cleanup(), then the runtime directory it leaves. Returns rte_eal_cleanup's result.
inline int CleanupEal() {
  const std::string dir = rte_eal_get_runtime_dir();
  const int rc = rte_eal_cleanup();
  RemoveEalRuntimeDir(dir);
  return rc;
}

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_EAL_RUNTIME_H_
