#include "lib/nat/engine.h"

#include "absl/strings/str_cat.h"
#include "lib/nat/worker.h"

namespace natgw::nat {

const char* DropReasonName(DropReason r) {
  static constexpr const char* kNames[] = {
#define NATGW_X(e, s) s,
      NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
  };
  int i = static_cast<int>(r);
  return i < kNumDropReasons ? kNames[i] : "none";
}

const char* EventName(Event e) {
  static constexpr const char* kNames[] = {
#define NATGW_X(e, s) s,
      NATGW_EVENT_COUNTERS(NATGW_X)
#undef NATGW_X
  };
  int i = static_cast<int>(e);
  return i < kNumEvents ? kNames[i] : "none";
}

uint64_t WorkerCounters::TotalDrops() const {
  uint64_t n = 0;
  for (uint64_t d : drops) n += d;
  return n;
}

Engine::Engine(const EngineConfig& config)
    : config_(config), allocators_(config.num_workers), pod_counters_(config.max_pods) {}

Engine::~Engine() {
  workers_.clear();
  for (const Retired& r : retired_) delete r.table;
  delete current_.load();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config,
                                                       const NatConfig& nat) {
  if (config.num_workers == 0 || config.num_workers > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_workers ", config.num_workers, " must be between 1 and 64"));
  }
  if (config.fragment_hold > kMaxBurst) {
    return absl::InvalidArgumentError(
        absl::StrCat("fragment_hold ", config.fragment_hold, " must be at most ", kMaxBurst));
  }
  std::unique_ptr<Engine> e(new Engine(config));
  conntrack::SessionTableConfig tc;
  tc.max_sessions = config.max_sessions;
  tc.num_workers = config.num_workers;
  tc.hugetlb = config.hugetlb;
  tc.hugetlb_keep_free = config.hugetlb_keep_free;
  auto table = conntrack::SessionTable::Create(tc);
  if (!table.ok()) return table.status();
  e->table_ = std::move(*table);
  e->qsbr_ = conntrack::MakeQsbr(config.num_workers);
  if (e->qsbr_ == nullptr) return absl::ResourceExhaustedError("cannot allocate the RCU state");
  if (config.event_ring_size != 0) {
    if ((config.event_ring_size & (config.event_ring_size - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("event_ring_size ", config.event_ring_size, " is not a power of two"));
    }
    e->traffic_ = std::make_unique<SessionTraffic[]>(e->table_->capacity());
  }
  auto mt = MappingTable::Build(nat, e->generation_, &e->allocators_);
  if (!mt.ok()) return mt.status();
  e->current_.store(mt->release(), std::memory_order_release);
  for (uint32_t i = 0; i < config.num_workers; ++i) {
    rte_rcu_qsbr_thread_register(e->qsbr(), i);
    e->workers_.push_back(std::make_unique<Worker>(e.get(), i));
    e->workers_.back()->Online();
  }
  return e;
}

absl::Status Engine::Apply(const NatConfig& nat) {
  ReclaimRetired();
  auto mt = MappingTable::Build(nat, static_cast<uint16_t>(generation_ + 1), &allocators_,
                                current_.load(std::memory_order_relaxed));
  if (!mt.ok()) return mt.status();
  ++generation_;
  const MappingTable* now = mt->release();
  const MappingTable* old = current_.exchange(now, std::memory_order_acq_rel);
  retired_.push_back(Retired{old, rte_rcu_qsbr_start(qsbr())});
  if (apply_observer_) apply_observer_(*old, *now);
  return absl::OkStatus();
}

void Engine::ReclaimRetired() {
  size_t kept = 0;
  for (const Retired& r : retired_) {
    if (rte_rcu_qsbr_check(qsbr(), r.token, false) == 1) {
      delete r.table;
    } else {
      retired_[kept++] = r;
    }
  }
  retired_.resize(kept);
}

const char* DeleteReasonName(DeleteReason r) {
  static constexpr const char* kNames[] = {
#define NATGW_X(e, s) s,
      NATGW_DELETE_REASONS(NATGW_X)
#undef NATGW_X
  };
  int i = static_cast<int>(r);
  return i < static_cast<int>(DeleteReason::kCount) ? kNames[i] : "none";
}

SessionEventRing* Engine::event_ring(uint32_t i) { return workers_[i]->events_.get(); }

uint64_t Engine::EventsDropped() const {
  uint64_t n = 0;
  for (const auto& w : workers_) {
    if (w->events_ != nullptr) n += w->events_->dropped();
  }
  return n;
}

WorkerCounters Engine::SumCounters() const {
  WorkerCounters sum;
  for (const auto& w : workers_) {
    const WorkerCounters& c = w->counters();
    for (int i = 0; i < kNumDropReasons; ++i) {
      sum.drops[i] += __atomic_load_n(&c.drops[i], __ATOMIC_RELAXED);
    }
    for (int i = 0; i < kNumEvents; ++i) {
      sum.events[i] += __atomic_load_n(&c.events[i], __ATOMIC_RELAXED);
    }
  }
  return sum;
}

}  // namespace natgw::nat
