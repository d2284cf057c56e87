#include "lib/control/cluster_source.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace natgw::control {

UpdateQueue::UpdateQueue() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

UpdateQueue::~UpdateQueue() {
  if (fd_ >= 0) close(fd_);
}

void UpdateQueue::Push(SourceUpdate u) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(u));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
}

std::vector<SourceUpdate> UpdateQueue::Drain() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof(count));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SourceUpdate> out;
  out.swap(pending_);
  return out;
}

}  // namespace natgw::control
