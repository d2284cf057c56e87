// How cluster-state sources (a directory of kubectl JSON, the Kubernetes API) hand what they see
// to the control thread: a thread-safe queue of updates plus an eventfd the control thread polls,
// so an event is applied as soon as it arrives. Sources may run on their own threads (the API
// source blocks in libcurl); only the control thread drains.
#ifndef NATGW_LIB_CONTROL_CLUSTER_SOURCE_H_
#define NATGW_LIB_CONTROL_CLUSTER_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "lib/control/kube_objects.h"

namespace natgw::control {

struct SourceUpdate {
  enum class Type : uint8_t {
    kReplace,  // `objects` is the source's whole state of `kind` (a fresh list); others are gone
    kUpsert,   // objects[0] was added or modified
    kDelete,   // objects[0] was deleted
    kStatus,   // only the source's status changed (connected, resource version, message)
  };
  Type type = Type::kUpsert;
  std::string source;  // the source's name ("dir:/etc/natgw/cluster", "kubernetes")
  kube::Kind kind = kube::Kind::kPod;
  std::vector<kube::Object> objects;
  // Status, carried by every update (the latest one wins).
  bool connected = true;
  std::string resource_version;  // of `kind`, when the source has one
  std::string message;           // why it is disconnected, what was refused, ...
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

class UpdateQueue {
 public:
  UpdateQueue();
  ~UpdateQueue();
  UpdateQueue(const UpdateQueue&) = delete;
  UpdateQueue& operator=(const UpdateQueue&) = delete;

  // Any thread. Wakes the control thread.
  void Push(SourceUpdate u);
  // Control thread: everything queued so far, in order; clears the wake-up.
  std::vector<SourceUpdate> Drain();
  // Readable while updates are queued (poll() it).
  int fd() const { return fd_; }

 private:
  std::mutex mu_;
  std::vector<SourceUpdate> pending_;
  int fd_ = -1;
};

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_CLUSTER_SOURCE_H_
