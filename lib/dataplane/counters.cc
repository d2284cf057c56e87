#include "lib/dataplane/counters.h"

namespace natgw::dataplane {

const char* DropName(Drop d) {
  static constexpr const char* kNames[] = {
#define NATGW_X(e, s) s,
      NATGW_DATAPLANE_DROPS(NATGW_X)
#undef NATGW_X
  };
  int i = static_cast<int>(d);
  return i < kNumDrops ? kNames[i] : "none";
}

const char* EventName(Event e) {
  static constexpr const char* kNames[] = {
#define NATGW_X(e, s) s,
      NATGW_DATAPLANE_EVENTS(NATGW_X)
#undef NATGW_X
  };
  int i = static_cast<int>(e);
  return i < kNumEvents ? kNames[i] : "none";
}

uint64_t DataplaneCounters::TotalDrops() const {
  uint64_t n = 0;
  for (uint64_t d : drops) n += d;
  return n;
}

void DataplaneCounters::AddSnapshot(const DataplaneCounters& other) {
  for (int i = 0; i < kNumDrops; ++i)
    drops[i] += __atomic_load_n(&other.drops[i], __ATOMIC_RELAXED);
  for (int i = 0; i < kNumEvents; ++i) {
    events[i] += __atomic_load_n(&other.events[i], __ATOMIC_RELAXED);
  }
}

}  // namespace natgw::dataplane
