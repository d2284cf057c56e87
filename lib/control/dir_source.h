// The directory source of cluster state: a directory of JSON files in the shape
// `kubectl get pods,services,endpointslices,nodes -o json` writes (a List, a typed list or single
// objects). Every *.json file not starting with '.' counts; the directory's state is the union of
// its files. natgw watches it with inotify: a file replaced atomically (written elsewhere, then
// renamed into the directory) is applied as one change; a malformed file is refused with its
// name and the previous content of that file is kept; a deleted file's objects are gone.
// Runs on the control thread: poll fd(), then call Poll().
#ifndef NATGW_LIB_CONTROL_DIR_SOURCE_H_
#define NATGW_LIB_CONTROL_DIR_SOURCE_H_

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/control/cluster_source.h"
#include "lib/control/kube_objects.h"

namespace natgw::control {

class DirectorySource {
 public:
  // Creates the directory if it is missing, starts watching it and pushes its initial state
  // (one kReplace per kind) to `queue`.
  static absl::StatusOr<std::unique_ptr<DirectorySource>> Start(const std::string& directory,
                                                                std::string name,
                                                                UpdateQueue* queue);
  ~DirectorySource();

  int fd() const { return fd_; }
  // Reads pending inotify events and pushes what changed. Non-blocking.
  void Poll();

  const std::string& name() const { return name_; }
  // Files refused at the last read: file name -> why.
  const std::map<std::string, std::string>& refused() const { return refused_; }

 private:
  DirectorySource(std::string directory, std::string name, UpdateQueue* queue, int fd)
      : directory_(std::move(directory)), name_(std::move(name)), queue_(queue), fd_(fd) {}
  // Re-reads `file` (or forgets it if it is gone); returns the kinds whose objects changed.
  std::array<bool, 4> Load(const std::string& file);
  void Push(const std::array<bool, 4>& kinds);

  std::string directory_;
  std::string name_;
  UpdateQueue* queue_;
  int fd_;
  std::map<std::string, std::vector<kube::Object>> files_;  // last good content of each file
  std::map<std::string, std::string> refused_;
};

// True for the files the directory source reads: "*.json", not hidden.
bool IsClusterStateFile(const std::string& name);

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_DIR_SOURCE_H_
