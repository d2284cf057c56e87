// natgw-core-transfer: how long one cache line takes to move from one CPU to another, now.
//
// On a shared VM the two vCPUs of the benchmarks move between host cores: a line written on one
// and read on the other crosses a core, a core complex or a socket, and that time changed
// five-fold within seconds here (about 50 ns or about 240 ns). natgw on zero-copy memif moves
// every frame's line to its core and back, testpmd io forwarding does not, so scripts/bench.sh
// asks this before and after each run and its report gives the figure beside each run's rate.
//
// Two threads, pinned to the two CPUs, pass a counter back and forth on one line; the figure is
// half a round trip, the median of --batches batches of --round_trips round trips. Prints that
// figure in ns (one number and a newline). Exits 2 on bad values or a CPU it cannot pin to, 3
// when a batch took longer than --timeout_s (the far CPU busy with something else), and 1 on a
// flag gflags cannot parse.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gflags/gflags.h"

DEFINE_string(cpus, "0,1", "the two CPUs, A,B: the line moves between them");
DEFINE_uint32(round_trips, 20000, "round trips per batch (1..10000000)");
DEFINE_uint32(batches, 5, "batches; the median batch is the figure (1..101)");
DEFINE_double(timeout_s, 10, "give up when a batch takes longer than this");

namespace {

using Clock = std::chrono::steady_clock;

bool ParseCpus(const std::string& s, int* a, int* b) {
  char rest = 0;
  return std::sscanf(s.c_str(), "%d,%d%c", a, b, &rest) == 2 && *a >= 0 && *b >= 0 &&
         *a < CPU_SETSIZE && *b < CPU_SETSIZE && *a != *b;
}

bool Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

struct alignas(64) Line {
  std::atomic<uint64_t> turn{0};  // odd: the far CPU's turn; even: the near CPU's
  std::atomic<bool> stop{false};
};

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "how long a cache line takes to move between two CPUs, in ns (one way, median batch)\n"
      "usage: natgw-core-transfer [--cpus=A,B] [--round_trips=N] [--batches=K] "
      "[--timeout_s=S]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  int near_cpu = 0, far_cpu = 0;
  if (argc > 1 || !ParseCpus(FLAGS_cpus, &near_cpu, &far_cpu) || FLAGS_round_trips < 1 ||
      FLAGS_round_trips > 10000000 || FLAGS_batches < 1 || FLAGS_batches > 101 ||
      !(FLAGS_timeout_s > 0)) {
    std::fprintf(stderr,
                 "natgw-core-transfer: bad arguments (--cpus two different CPUs A,B; "
                 "--round_trips 1..10000000; --batches 1..101; --timeout_s > 0)\n");
    return 2;
  }
  if (!Pin(near_cpu)) {
    std::fprintf(stderr, "natgw-core-transfer: cannot run on CPU %d\n", near_cpu);
    return 2;
  }
  Line line;
  std::atomic<int> far_pinned{-1};
  const uint64_t total = uint64_t{FLAGS_round_trips} * FLAGS_batches;
  std::thread far([&] {
    const bool pinned = Pin(far_cpu);
    far_pinned.store(pinned ? 1 : 0);
    if (!pinned) return;
    for (uint64_t i = 0; i < total; ++i) {
      while (line.turn.load(std::memory_order_acquire) != 2 * i + 1) {
        if (line.stop.load(std::memory_order_relaxed)) return;
      }
      line.turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  while (far_pinned.load() < 0) std::this_thread::yield();
  if (far_pinned.load() == 0) {
    line.stop.store(true);
    far.join();
    std::fprintf(stderr, "natgw-core-transfer: cannot run on CPU %d\n", far_cpu);
    return 2;
  }
  const auto limit = std::chrono::duration<double>(FLAGS_timeout_s);
  std::vector<double> ns;
  uint64_t i = 0;
  bool late = false;
  for (uint32_t batch = 0; batch < FLAGS_batches && !late; ++batch) {
    const Clock::time_point start = Clock::now();
    // The clock is read every 256 round trips and while one round trip lasts long, so both a
    // peer that never answers and one that answers slowly every time end the batch.
    uint32_t spins = 0;
    for (uint32_t k = 0; k < FLAGS_round_trips && !late; ++k, ++i) {
      line.turn.store(2 * i + 1, std::memory_order_release);
      while (line.turn.load(std::memory_order_acquire) != 2 * i + 2) {
        if (++spins >= 1u << 16) {
          spins = 0;
          late = Clock::now() - start > limit;
          if (late) break;
        }
      }
      if ((k & 255) == 255 && !late) late = Clock::now() - start > limit;
    }
    const double elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    ns.push_back(elapsed / (2.0 * FLAGS_round_trips));
  }
  line.stop.store(true);
  far.join();
  if (late) {
    std::fprintf(stderr, "natgw-core-transfer: a batch on CPU %d took over %g s\n", far_cpu,
                 FLAGS_timeout_s);
    return 3;
  }
  std::nth_element(ns.begin(), ns.begin() + ns.size() / 2, ns.end());
  std::printf("%.1f\n", ns[ns.size() / 2]);
  return 0;
}
