#include "lib/control/dir_source.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace natgw::control {

bool IsClusterStateFile(const std::string& name) {
  return !name.empty() && name[0] != '.' && absl::EndsWith(name, ".json");
}

absl::StatusOr<std::unique_ptr<DirectorySource>> DirectorySource::Start(
    const std::string& directory, std::string name, UpdateQueue* queue) {
  for (size_t i = 1; i <= directory.size(); ++i) {  // mkdir -p
    if (i == directory.size() || directory[i] == '/') mkdir(directory.substr(0, i).c_str(), 0755);
  }
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("inotify: ", std::strerror(errno)));
  if (inotify_add_watch(fd, directory.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR) <
      0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cluster directory ", directory, ": cannot watch it: ", std::strerror(err)));
  }
  std::unique_ptr<DirectorySource> s(new DirectorySource(directory, std::move(name), queue, fd));
  if (DIR* d = opendir(directory.c_str())) {
    while (dirent* e = readdir(d)) {
      if (IsClusterStateFile(e->d_name)) s->Load(e->d_name);
    }
    closedir(d);
  }
  s->Push({true, true, true, true});
  return s;
}

DirectorySource::~DirectorySource() { close(fd_); }

std::array<bool, 4> DirectorySource::Load(const std::string& file) {
  std::array<bool, 4> changed{};
  auto mark = [&](const std::vector<kube::Object>& objects) {
    for (const kube::Object& o : objects) changed[static_cast<size_t>(kube::KindOf(o))] = true;
  };
  const std::string path = absl::StrCat(directory_, "/", file);
  std::ifstream f(path);
  if (!f) {  // deleted or moved away
    auto it = files_.find(file);
    if (it != files_.end()) {
      mark(it->second);
      LOG(INFO) << "cluster source " << name_ << ": " << file << " removed (" << it->second.size()
                << " objects)";
      files_.erase(it);
    }
    refused_.erase(file);
    return changed;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto doc = kube::ParseDocument(ss.str());
  if (!doc.ok()) {
    std::string why = std::string(doc.status().message());
    refused_[file] = why;
    LOG(ERROR) << "cluster source " << name_ << ": " << path << " refused: " << why
               << (files_.contains(file) ? "; keeping its previous content" : "");
    return changed;
  }
  refused_.erase(file);
  auto it = files_.find(file);
  if (it != files_.end()) mark(it->second);
  mark(doc->objects);
  files_[file] = std::move(doc->objects);
  return changed;
}

void DirectorySource::Push(const std::array<bool, 4>& kinds) {
  const auto arrived = std::chrono::steady_clock::now();
  std::string message;
  for (const auto& [file, why] : refused_) {
    message += absl::StrCat(message.empty() ? "" : "; ", file, ": ", why);
  }
  for (kube::Kind k : kube::kAllKinds) {
    if (!kinds[static_cast<size_t>(k)]) continue;
    SourceUpdate u;
    u.type = SourceUpdate::Type::kReplace;
    u.source = name_;
    u.kind = k;
    u.connected = true;
    u.message = message;
    u.arrived = arrived;
    for (const auto& [file, objects] : files_) {
      for (const kube::Object& o : objects) {
        if (kube::KindOf(o) == k) u.objects.push_back(o);
      }
    }
    queue_->Push(std::move(u));
  }
  if (!std::any_of(kinds.begin(), kinds.end(), [](bool b) { return b; })) {
    SourceUpdate u;
    u.type = SourceUpdate::Type::kStatus;
    u.source = name_;
    u.connected = true;
    u.message = message;
    u.arrived = arrived;
    queue_->Push(std::move(u));
  }
}

void DirectorySource::Poll() {
  alignas(inotify_event) char buf[16384];
  std::array<bool, 4> changed{};
  bool any = false;
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {  // events lost: read everything again
        files_.clear();
        if (DIR* d = opendir(directory_.c_str())) {
          while (dirent* e = readdir(d)) {
            if (IsClusterStateFile(e->d_name)) Load(e->d_name);
          }
          closedir(d);
        }
        changed = {true, true, true, true};
        any = true;
        continue;
      }
      if (ev->len == 0 || !IsClusterStateFile(ev->name)) continue;
      std::array<bool, 4> c = Load(ev->name);
      for (size_t k = 0; k < 4; ++k) changed[k] = changed[k] || c[k];
      any = true;
    }
  }
  if (any) Push(changed);
}

}  // namespace natgw::control
