#include "lib/telemetry/ipfix.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace natgw::telemetry {
namespace {

// Information element ids (IANA IPFIX registry).
enum Ie : uint16_t {
  kProtocolIdentifier = 4, kSourceTransportPort = 7, kSourceIPv4Address = 8,
  kDestinationTransportPort = 11, kDestinationIPv4Address = 12, kPostNatSourceIPv4Address = 225,
  kPostNatDestinationIPv4Address = 226, kPostNaptSourceTransportPort = 227,
  kPostNaptDestinationTransportPort = 228, kNatEvent = 230, kInitiatorOctets = 231,
  kResponderOctets = 232, kIngressVrfId = 234, kNatPoolId = 283, kInitiatorPackets = 298,
  kResponderPackets = 299, kObservationTimeMilliseconds = 323, kPortRangeStart = 361,
  kPortRangeEnd = 362, kPortRangeStepSize = 363, kPortRangeNumPorts = 364,
  kNatQuotaExceededEvent = 466, kMaxEntriesPerUser = 473,
};

struct Field {
  uint16_t ie;
  uint16_t length;
};

struct Template {
  uint16_t id;
  std::vector<Field> fields;
};

const std::vector<Template>& Templates() {
  static const std::vector<Template> kTemplates = {
      {kTemplateSession,
       {{kObservationTimeMilliseconds, 8}, {kNatEvent, 1}, {kProtocolIdentifier, 1},
        {kIngressVrfId, 4}, {kSourceIPv4Address, 4}, {kSourceTransportPort, 2},
        {kDestinationIPv4Address, 4}, {kDestinationTransportPort, 2},
        {kPostNatSourceIPv4Address, 4}, {kPostNaptSourceTransportPort, 2},
        {kPostNatDestinationIPv4Address, 4}, {kPostNaptDestinationTransportPort, 2},
        {kInitiatorPackets, 8}, {kResponderPackets, 8}, {kInitiatorOctets, 8},
        {kResponderOctets, 8}}},
      {kTemplatePortsExhausted,
       {{kObservationTimeMilliseconds, 8}, {kNatEvent, 1}, {kIngressVrfId, 4},
        {kSourceIPv4Address, 4}, {kPostNatSourceIPv4Address, 4}, {kNatPoolId, 4}}},
      {kTemplatePortBlock,
       {{kObservationTimeMilliseconds, 8}, {kNatEvent, 1}, {kIngressVrfId, 4},
        {kSourceIPv4Address, 4}, {kPostNatSourceIPv4Address, 4}, {kPortRangeStart, 2},
        {kPortRangeEnd, 2}, {kPortRangeStepSize, 2}, {kPortRangeNumPorts, 2}}},
      {kTemplateAddressBinding,
       {{kObservationTimeMilliseconds, 8}, {kNatEvent, 1}, {kIngressVrfId, 4},
        {kSourceIPv4Address, 4}, {kPostNatSourceIPv4Address, 4}}},
      {kTemplateQuotaExceeded,
       {{kObservationTimeMilliseconds, 8}, {kNatEvent, 1}, {kNatQuotaExceededEvent, 4},
        {kMaxEntriesPerUser, 4}, {kIngressVrfId, 4}, {kSourceIPv4Address, 4}}},
  };
  return kTemplates;
}

const Template* FindTemplate(uint16_t id) {
  for (const Template& t : Templates()) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

void Put16(std::vector<uint8_t>* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
void Put32(std::vector<uint8_t>* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
void Put64(std::vector<uint8_t>* b, uint64_t v) {
  Put32(b, static_cast<uint32_t>(v >> 32));
  Put32(b, static_cast<uint32_t>(v));
}
// Addresses are kept in network order: their bytes go out as they are.
void PutIp(std::vector<uint8_t>* b, uint32_t ip_be) { Put32(b, ntohl(ip_be)); }
void Set16(std::vector<uint8_t>* b, size_t at, uint16_t v) {
  (*b)[at] = static_cast<uint8_t>(v >> 8);
  (*b)[at + 1] = static_cast<uint8_t>(v);
}

void PutField(std::vector<uint8_t>* b, uint16_t ie, const IpfixRecord& r) {
  switch (ie) {
    case kObservationTimeMilliseconds: Put64(b, static_cast<uint64_t>(r.time_ms)); break;
    case kNatEvent: b->push_back(static_cast<uint8_t>(r.event)); break;
    case kProtocolIdentifier: b->push_back(r.proto); break;
    case kIngressVrfId: Put32(b, r.vrf); break;
    case kSourceIPv4Address: PutIp(b, r.src_ip); break;
    case kSourceTransportPort: Put16(b, r.src_port); break;
    case kDestinationIPv4Address: PutIp(b, r.dst_ip); break;
    case kDestinationTransportPort: Put16(b, r.dst_port); break;
    case kPostNatSourceIPv4Address: PutIp(b, r.post_src_ip); break;
    case kPostNaptSourceTransportPort: Put16(b, r.post_src_port); break;
    case kPostNatDestinationIPv4Address: PutIp(b, r.post_dst_ip); break;
    case kPostNaptDestinationTransportPort: Put16(b, r.post_dst_port); break;
    case kInitiatorPackets: Put64(b, r.initiator_packets); break;
    case kResponderPackets: Put64(b, r.responder_packets); break;
    case kInitiatorOctets: Put64(b, r.initiator_octets); break;
    case kResponderOctets: Put64(b, r.responder_octets); break;
    case kNatPoolId: Put32(b, r.pool_id); break;
    case kPortRangeStart: Put16(b, r.port_range_start); break;
    case kPortRangeEnd: Put16(b, r.port_range_end); break;
    case kPortRangeStepSize: Put16(b, r.port_range_step); break;
    case kPortRangeNumPorts: Put16(b, r.port_range_ports); break;
    case kNatQuotaExceededEvent: Put32(b, r.quota_event); break;
    case kMaxEntriesPerUser: Put32(b, r.max_entries_per_user); break;
    default: break;
  }
}

size_t RecordLength(const Template& t) {
  size_t n = 0;
  for (const Field& f : t.fields) n += f.length;
  return n;
}

}  // namespace

std::vector<std::vector<uint8_t>> IpfixEncoder::Flush(uint32_t export_time_s) {
  std::vector<std::vector<uint8_t>> out;
  const bool templates_due =
      templates_sent_s_ < 0 || export_time_s >= templates_sent_s_ + template_interval_s_;
  if (pending_.empty() && !templates_due) return out;
  std::vector<uint8_t> msg;
  size_t set_start = 0;  // offset of the open data set's header, 0 if none
  uint16_t set_id = 0;
  uint32_t records_in_msg = 0;
  const auto close_set = [&] {
    if (set_start == 0) return;
    Set16(&msg, set_start + 2, static_cast<uint16_t>(msg.size() - set_start));
    set_start = 0;
  };
  const auto start_message = [&] {
    msg.clear();
    Put16(&msg, 10);  // version
    Put16(&msg, 0);   // length, set on close
    Put32(&msg, export_time_s);
    Put32(&msg, sequence_);  // data records sent before this message
    Put32(&msg, domain_);
    records_in_msg = 0;
  };
  const auto finish_message = [&] {
    close_set();
    Set16(&msg, 2, static_cast<uint16_t>(msg.size()));
    out.push_back(msg);
    sequence_ += records_in_msg;
  };
  start_message();
  if (templates_due) {
    const size_t start = msg.size();
    Put16(&msg, 2);  // template set
    Put16(&msg, 0);
    for (const Template& t : Templates()) {
      Put16(&msg, t.id);
      Put16(&msg, static_cast<uint16_t>(t.fields.size()));
      for (const Field& f : t.fields) {
        Put16(&msg, f.ie);
        Put16(&msg, f.length);
      }
    }
    Set16(&msg, start + 2, static_cast<uint16_t>(msg.size() - start));
    templates_sent_s_ = export_time_s;
  }
  for (const IpfixRecord& r : pending_) {
    const Template* t = FindTemplate(r.template_id);
    if (t == nullptr) continue;
    const size_t need = RecordLength(*t) + (set_id == t->id && set_start != 0 ? 0 : 4);
    if (msg.size() + need > max_message_ && records_in_msg != 0) {
      finish_message();
      start_message();
    }
    if (set_start == 0 || set_id != t->id) {
      close_set();
      set_start = msg.size();
      set_id = t->id;
      Put16(&msg, t->id);
      Put16(&msg, 0);
    }
    for (const Field& f : t->fields) PutField(&msg, f.ie, r);
    ++records_in_msg;
  }
  finish_message();
  pending_.clear();
  return out;
}

absl::StatusOr<IpfixSender> IpfixSender::Connect(uint32_t ip_be, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("ipfix: socket: ", std::strerror(errno)));
  // Not connected: a collector that is unreachable now (no route yet) costs send errors, counted,
  // and natgw starts anyway.
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = ip_be;
  sa.sin_port = htons(port);
  return IpfixSender(fd, sa);
}

IpfixSender::~IpfixSender() {
  if (fd_ >= 0) close(fd_);
}

bool IpfixSender::Send(const std::vector<uint8_t>& message) {
  return sendto(fd_, message.data(), message.size(), MSG_DONTWAIT,
                reinterpret_cast<const sockaddr*>(&to_), sizeof(to_)) ==
         static_cast<ssize_t>(message.size());
}

}  // namespace natgw::telemetry
