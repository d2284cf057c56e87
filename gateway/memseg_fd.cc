// A copy of EAL's memory file descriptor for every caller of rte_memseg_get_fd(), so that DPDK
// 22.11's zero-copy memif clients come up every time.
//
// A zero-copy memif client shares its hugepage memory with the server: at each connection it
// asks rte_memseg_get_fd() for the file of every memory segment list, sends it, and then closes
// it (memif_connect; memif_free_regions too) as if it owned it. It does not: EAL hands out its
// own descriptor, the same one to every caller. After the first port has connected, the next
// port to connect (natgw has two), or a port connecting again, sends a closed number or one the
// kernel has given meanwhile to an eventfd; the server's mmap fails ("memif_connect(): mmap
// failed: No such device") and that link never comes up. Which port lost depended on how the
// two handshakes interleaved: 3 of 10 testpmd starts here, and a quarter of scripts/bench.sh's
// runs had to be started again.
//
// Linked into natgw (exported from the executable, which comes first in symbol lookup, so the
// memif driver's call lands here) and built as a module that scripts/lib/loadgen.sh preloads
// into dpdk-testpmd. memif is the only DPDK 22.11 library that calls this function, and it closes
// every descriptor it gets: nothing leaks. Needs DPDK as shared libraries (a static link would
// define the function twice); the module cannot be preloaded from a sanitizer build.
#include <dlfcn.h>
#include <fcntl.h>

struct rte_memseg;

extern "C" int rte_memseg_get_fd(const struct rte_memseg* ms) {
  using GetFd = int (*)(const struct rte_memseg*);
  // EAL's definition, the next one after this in lookup order: the symbol's version in 22.11,
  // or whichever another DPDK has.
  static const GetFd eal_get_fd = [] {
    void* f = dlvsym(RTLD_NEXT, "rte_memseg_get_fd", "DPDK_23");
    return reinterpret_cast<GetFd>(f != nullptr ? f : dlsym(RTLD_NEXT, "rte_memseg_get_fd"));
  }();
  if (eal_get_fd == nullptr) return -1;
  const int fd = eal_get_fd(ms);
  // (above 2: memif takes only a descriptor > 0 for one)
  return fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}
