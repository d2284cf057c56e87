// Control-thread views of the session table: enumeration for `show`/`lookup`, and flush.
#include "lib/nat/engine.h"
#include "lib/nat/worker.h"

namespace natgw::nat {

uint64_t Engine::ForEachSession(
    const std::function<void(uint32_t index, const conntrack::Session& s)>& fn) const {
  uint64_t visited = 0;
  const conntrack::SessionTable& t = *table_;
  for (uint32_t i = 0; i < t.capacity(); ++i) {
    const conntrack::Session& s = t.session(i);
    // Free pool slots keep stale keys; a session is live iff its inside key leads back to it.
    if (t.Lookup(s.in_key) != conntrack::MakeRef(i, false)) continue;
    if (s.flags.load(std::memory_order_acquire) & conntrack::kSessionDead) continue;
    fn(i, s);
    ++visited;
  }
  return visited;
}

std::unique_ptr<conntrack::SessionCounts> Engine::SumSessionCounts() const {
  auto sum = std::make_unique<conntrack::SessionCounts>();
  for (const auto& w : workers_) sum->AddSnapshot(w->sessions().counts());
  return sum;
}

uint64_t Engine::FlushAll() {
  std::vector<uint32_t> live;
  ForEachSession([&](uint32_t index, const conntrack::Session&) { live.push_back(index); });
  for (uint32_t index : live) {
    table_->Unlink(index);
    table_->session(index).flags.fetch_or(conntrack::kSessionDead | conntrack::kSessionFlushed,
                                          std::memory_order_acq_rel);
  }
  flush_epoch_.fetch_add(1, std::memory_order_release);  // workers sweep now, not after a back-off
  return live.size();
}

// No wait for a grace period: a worker that never ran may still count as online. Sessions whose
// grace period is not over stay unfreed until the engine goes.
void Engine::EndSessionsOfStoppedWorker(uint32_t i) { workers_[i]->sessions().DrainAll(false); }

}  // namespace natgw::nat
