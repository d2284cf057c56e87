// IPFIX export, checked with a decoder written here from RFC 7011 (message header, sets, template
// records, data records) rather than with the encoder's own tables: the encoder's messages, their
// splitting and template refresh, and the records natgw sends to a collector, field by field
// against the JSON log records of the same events.
#include "lib/telemetry/ipfix.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "lib/telemetry/event_lookup.h"
#include "tests/telemetry/event_log_test_util.h"

namespace natgw::nat::testing {
namespace {

using telemetry::IpfixEncoder;
using telemetry::IpfixRecord;

// ---- An independent decoder --------------------------------------------------------------
struct DecodedRecord {
  uint16_t template_id = 0;
  std::map<uint16_t, uint64_t> fields;  // information element id -> value (big-endian integer)
  uint64_t operator[](uint16_t ie) const {
    auto it = fields.find(ie);
    return it == fields.end() ? ~uint64_t{0} : it->second;
  }
  bool has(uint16_t ie) const { return fields.contains(ie); }
};

struct DecodedMessage {
  uint32_t export_time = 0, sequence = 0, domain = 0;
  bool had_templates = false;
  std::vector<DecodedRecord> records;
};

class Decoder {
 public:
  // Decodes one message; fails the test on any malformation.
  DecodedMessage Decode(const std::vector<uint8_t>& m) {
    DecodedMessage out;
    EXPECT_GE(m.size(), 16u);
    if (m.size() < 16) return out;
    EXPECT_EQ(Be(m, 0, 2), 10u) << "IPFIX version";
    EXPECT_EQ(Be(m, 2, 2), m.size()) << "message length";
    out.export_time = static_cast<uint32_t>(Be(m, 4, 4));
    out.sequence = static_cast<uint32_t>(Be(m, 8, 4));
    out.domain = static_cast<uint32_t>(Be(m, 12, 4));
    size_t pos = 16;
    while (pos + 4 <= m.size()) {
      const auto set_id = static_cast<uint16_t>(Be(m, pos, 2));
      const size_t set_len = Be(m, pos + 2, 2);
      EXPECT_GE(set_len, 4u);
      EXPECT_LE(pos + set_len, m.size());
      if (set_len < 4 || pos + set_len > m.size()) return out;
      const size_t end = pos + set_len;
      size_t p = pos + 4;
      if (set_id == 2) {
        out.had_templates = true;
        while (p + 4 <= end) {
          const auto tid = static_cast<uint16_t>(Be(m, p, 2));
          const size_t count = Be(m, p + 2, 2);
          p += 4;
          std::vector<std::pair<uint16_t, uint16_t>> fields;
          for (size_t i = 0; i < count; ++i, p += 4) {
            const auto ie = static_cast<uint16_t>(Be(m, p, 2));
            EXPECT_EQ(ie & 0x8000, 0) << "no enterprise elements";
            fields.emplace_back(ie, static_cast<uint16_t>(Be(m, p + 2, 2)));
          }
          templates_[tid] = fields;
        }
      } else if (set_id >= 256) {
        auto t = templates_.find(set_id);
        EXPECT_NE(t, templates_.end()) << "data set " << set_id << " before its template";
        if (t == templates_.end()) return out;
        size_t rec_len = 0;
        for (const auto& f : t->second) rec_len += f.second;
        while (p + rec_len <= end) {
          DecodedRecord r;
          r.template_id = set_id;
          for (const auto& [ie, len] : t->second) {
            r.fields[ie] = Be(m, p, len);
            p += len;
          }
          out.records.push_back(r);
        }
        EXPECT_LT(end - p, rec_len) << "only padding may follow the records";
      }
      pos = end;
    }
    EXPECT_EQ(pos, m.size());
    return out;
  }

 private:
  static uint64_t Be(const std::vector<uint8_t>& m, size_t at, size_t len) {
    uint64_t v = 0;
    for (size_t i = 0; i < len && at + i < m.size(); ++i) v = (v << 8) | m[at + i];
    return v;
  }
  std::map<uint16_t, std::vector<std::pair<uint16_t, uint16_t>>> templates_;
};

uint64_t HostIp(const char* s) { return ntohl(Ip(s)); }

IpfixRecord SessionRecord(uint16_t src_port) {
  IpfixRecord r;
  r.template_id = telemetry::kTemplateSession;
  r.time_ms = kT0 + 1;
  r.event = telemetry::NatEvent::kSessionCreate;
  r.proto = 6;
  r.src_ip = Ip("10.0.0.9");
  r.src_port = src_port;
  r.dst_ip = Ip("198.51.100.50");
  r.dst_port = 80;
  r.post_src_ip = Ip("192.0.2.16");
  r.post_src_port = 1024;
  r.post_dst_ip = Ip("198.51.100.50");
  r.post_dst_port = 80;
  r.vrf = 1;
  return r;
}

TEST(IpfixEncoderTest, MessagesTemplatesAndSequenceNumbers) {
  IpfixEncoder enc(/*observation_domain=*/7, /*template_interval_s=*/60);
  Decoder dec;
  for (uint16_t i = 0; i < 3; ++i) enc.Add(SessionRecord(40000 + i));
  auto msgs = enc.Flush(1000);
  ASSERT_EQ(msgs.size(), 1u);
  DecodedMessage d = dec.Decode(msgs[0]);
  EXPECT_TRUE(d.had_templates);
  EXPECT_EQ(d.export_time, 1000u);
  EXPECT_EQ(d.sequence, 0u);
  EXPECT_EQ(d.domain, 7u);
  ASSERT_EQ(d.records.size(), 3u);
  const DecodedRecord& r = d.records[2];
  EXPECT_EQ(r.template_id, 256);
  EXPECT_EQ(r[230], 1u);  // natEvent: NAT44 session create
  EXPECT_EQ(r[4], 6u);
  EXPECT_EQ(r[8], HostIp("10.0.0.9"));
  EXPECT_EQ(r[7], 40002u);
  EXPECT_EQ(r[12], HostIp("198.51.100.50"));
  EXPECT_EQ(r[11], 80u);
  EXPECT_EQ(r[225], HostIp("192.0.2.16"));
  EXPECT_EQ(r[227], 1024u);
  EXPECT_EQ(r[226], HostIp("198.51.100.50"));
  EXPECT_EQ(r[228], 80u);
  EXPECT_EQ(r[234], 1u);
  EXPECT_EQ(r[323], static_cast<uint64_t>(kT0 + 1));

  // Ten seconds later: no templates, the sequence counts the three records sent before.
  enc.Add(SessionRecord(1));
  msgs = enc.Flush(1010);
  ASSERT_EQ(msgs.size(), 1u);
  d = dec.Decode(msgs[0]);
  EXPECT_FALSE(d.had_templates);
  EXPECT_EQ(d.sequence, 3u);
  EXPECT_TRUE(enc.Flush(1020).empty());  // nothing to say
  // Past the template interval the templates come again, even without records.
  msgs = enc.Flush(1060);
  ASSERT_EQ(msgs.size(), 1u);
  d = dec.Decode(msgs[0]);
  EXPECT_TRUE(d.had_templates);
  EXPECT_TRUE(d.records.empty());
  EXPECT_EQ(d.sequence, 4u);
}

TEST(IpfixEncoderTest, LongBatchesSplitIntoMessagesUnderTheLimit) {
  IpfixEncoder enc(1, 60, /*max_message=*/400);
  Decoder dec;
  for (uint16_t i = 0; i < 20; ++i) enc.Add(SessionRecord(i));
  auto msgs = enc.Flush(5);
  ASSERT_GT(msgs.size(), 3u);
  uint32_t seen = 0;
  for (const auto& m : msgs) {
    EXPECT_LE(m.size(), 400u);
    DecodedMessage d = dec.Decode(m);
    EXPECT_EQ(d.sequence, seen);
    for (const auto& r : d.records) EXPECT_EQ(r[7], seen++);
  }
  EXPECT_EQ(seen, 20u);
}

// A collector on a loopback UDP socket.
class Collector {
 public:
  Collector() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~Collector() { close(fd_); }
  uint16_t port() const { return port_; }
  std::vector<std::vector<uint8_t>> Receive() {
    std::vector<std::vector<uint8_t>> out;
    pollfd p{fd_, POLLIN, 0};
    while (poll(&p, 1, 200) > 0) {
      std::vector<uint8_t> buf(65536);
      const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      buf.resize(static_cast<size_t>(n));
      out.push_back(std::move(buf));
    }
    return out;
  }

 private:
  int fd_;
  uint16_t port_ = 0;
};

// IPFIX of `g` to the collector `c`, in `domain`.
void IpfixTo(control::GatewayConfig* g, const Collector& c, uint32_t domain) {
  g->ipfix.enabled = true;
  g->ipfix.address = htonl(INADDR_LOOPBACK);
  g->ipfix.port = c.port();
  g->ipfix.observation_domain = domain;
}

// Pod .9's egress UDP session to 198.51.100.50:53 from 192.0.2.16:1030: its create, then (as
// Ended turns it) its delete by idle timeout 3 s later.
SessionEvent EgressCreate() {
  SessionEvent e = UdpEvent(SessionEventType::kCreate, 1500, "10.0.0.9", 40000, "192.0.2.16",
                            1030, "198.51.100.50", 53);
  e.kind = static_cast<uint8_t>(conntrack::SessionKind::kEgressPool);
  return e;
}
void Ended(SessionEvent* e) {
  e->type = SessionEventType::kDelete;
  e->tsc = 4500;
  e->created_s = 10;
  e->event_s = 13;
  e->reason = DeleteReason::kIdleTimeout;
}

TEST_P(EventLogTest, IpfixRecordsMatchTheJsonLog) {
  Collector collector;
  IpfixTo(&config_, collector, 42);
  OpenLog();
  SessionEvent e = EgressCreate();
  log_->HandleForTest(e);
  Ended(&e);
  e.packets[0] = 4;
  e.packets[1] = 3;
  e.bytes[0] = 400;
  e.bytes[1] = 3000;
  log_->HandleForTest(e);
  SessionEvent x{};
  x.type = SessionEventType::kPortsExhausted;
  x.tsc = 5000;
  x.island = 1;
  x.inside_ip = Ip("10.0.0.9");
  x.external_ip = Ip("192.0.2.17");
  log_->HandleForTest(x);
  SessionEvent q{};
  q.type = SessionEventType::kQuotaExceeded;
  q.tsc = 5100;
  q.island = 1;
  q.inside_ip = Ip("10.0.0.9");
  log_->HandleForTest(q);
  log_->FlushForTest();

  Decoder dec;
  std::vector<DecodedRecord> records;
  for (const auto& m : collector.Receive()) {
    DecodedMessage d = dec.Decode(m);
    EXPECT_EQ(d.domain, 42u);
    records.insert(records.end(), d.records.begin(), d.records.end());
  }
  const std::vector<nlohmann::json> json = ReadRecords(config_.event_log.path);
  ASSERT_EQ(json.size(), 7u);  // 3 mapping_add, create, delete, ports_exhausted, quota_exceeded
  ASSERT_EQ(records.size(), 7u);  // the same events, in the same order
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(records[i][230], 12u);  // address binding create
    EXPECT_EQ(records[i][8], HostIp(json[i]["pod_ip"].get<std::string>().c_str()));
    EXPECT_EQ(records[i][225], HostIp(json[i]["external"].get<std::string>().c_str()));
  }
  for (size_t i = 3; i < 5; ++i) {
    SCOPED_TRACE(json[i].dump());
    const DecodedRecord& r = records[i];
    const nlohmann::json& j = json[i];
    EXPECT_EQ(r.template_id, telemetry::kTemplateSession);
    EXPECT_EQ(r[230], j["event"] == "session_create" ? 1u : 2u);
    EXPECT_EQ(r[323], static_cast<uint64_t>(*telemetry::ParseTime(j["time"].get<std::string>())));
    EXPECT_EQ(r[4], 17u);
    EXPECT_EQ(r[234], 1u);
    const auto ep = [](const nlohmann::json& v) {
      const std::string s = v.get<std::string>();
      const size_t c = s.find(':');
      return std::make_pair(HostIp(s.substr(0, c).c_str()), uint64_t{std::stoul(s.substr(c + 1))});
    };
    EXPECT_EQ(std::make_pair(r[8], r[7]), ep(j["inside"]));
    EXPECT_EQ(std::make_pair(r[12], r[11]), ep(j["remote_as_seen_inside"]));
    EXPECT_EQ(std::make_pair(r[225], r[227]), ep(j["external"]));
    EXPECT_EQ(std::make_pair(r[226], r[228]), ep(j["remote"]));
    // Outbound flow: the pod initiated it.
    EXPECT_EQ(r[298], j.value("packets_in2out", uint64_t{0}));
    EXPECT_EQ(r[299], j.value("packets_out2in", uint64_t{0}));
    EXPECT_EQ(r[231], j.value("bytes_in2out", uint64_t{0}));
    EXPECT_EQ(r[232], j.value("bytes_out2in", uint64_t{0}));
  }
  EXPECT_EQ(records[4][299], 3u);
  EXPECT_EQ(records[5][230], 10u);  // NAT ports exhausted (IANA natEvent registry)
  EXPECT_EQ(records[5][225], HostIp("192.0.2.17"));
  EXPECT_EQ(json[5]["event"], "ports_exhausted");
  EXPECT_EQ(records[6][230], 11u);  // quota exceeded
  EXPECT_EQ(records[6][466], 3u);   // natQuotaExceededEvent: maximum entries per user
  EXPECT_EQ(records[6][473], 0u);   // maxEntriesPerUser: the limit (none in this config)
  EXPECT_EQ(records[6][8], HostIp("10.0.0.9"));
  EXPECT_EQ(records[6][323], static_cast<uint64_t>(kT0 + 5100));
  EXPECT_EQ(json[6]["event"], "quota_exceeded");
  EXPECT_EQ(log_->counters().ipfix_records, 7u);
  EXPECT_GE(log_->counters().ipfix_messages, 1u);
}

// A reload moves the log to a new path and IPFIX to a new collector and domain: what came
// before goes to the old ones, what comes after to the new; a mode change waits for a restart
// (KeepRestartOnlySettings, as natgw's reload runs it first);
// a path that cannot be opened refuses the reload and changes nothing.
TEST_P(EventLogTest, ReloadSwitchesFileAndCollector) {
  Collector before, after;
  IpfixTo(&config_, before, 42);
  OpenLog();
  SessionEvent e = EgressCreate();
  log_->HandleForTest(e);  // not flushed yet: the commit sends it the old way

  std::ofstream(dir_ + "/a-file") << "x";
  control::GatewayConfig bad = config_;
  bad.event_log.path = dir_ + "/a-file/events.jsonl";  // its directory is a file
  auto refused = log_->PrepareReload(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("a-file/events.jsonl"), std::string::npos)
      << refused.status();
  // A reload dropped after its new file was opened (natgw: the engine refused the conf) leaves
  // neither the file nor the directories made for it; an existing file is left alone.
  control::GatewayConfig dropped = config_;
  dropped.event_log.path = dir_ + "/new/deeper/events.jsonl";
  {
    auto d = log_->PrepareReload(dropped);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(std::filesystem::exists(dropped.event_log.path));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/new"));
  std::ofstream(dir_ + "/kept.jsonl") << "";
  dropped.event_log.path = dir_ + "/kept.jsonl";
  log_->PrepareReload(dropped).IgnoreError();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/kept.jsonl"));

  control::GatewayConfig next = config_;
  next.event_log.path = dir_ + "/moved/events.jsonl";
  next.event_log.mode = control::EventLogMode::kPortBlock;
  IpfixTo(&next, after, 43);
  EXPECT_EQ(control::KeepRestartOnlySettings(config_, &next),
            std::vector<std::string>{"[event_log] mode"});
  EXPECT_EQ(next.event_log.mode, control::EventLogMode::kSession);  // the running one
  auto r = log_->PrepareReload(next);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->changes.size(), 2u);
  log_->CommitReload(std::move(*r), &next);
  Ended(&e);
  log_->HandleForTest(e);
  log_->FlushForTest();

  std::vector<nlohmann::json> old_file = ReadRecords(config_.event_log.path);
  ASSERT_EQ(old_file.size(), 4u);  // 3 mapping_add and the create
  EXPECT_EQ(old_file[3]["event"], "session_create");
  std::vector<nlohmann::json> new_file = ReadRecords(next.event_log.path);
  ASSERT_EQ(new_file.size(), 4u);  // the 3 pod addresses held, then the delete
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(new_file[i]["event"], "mapping_add");
    EXPECT_EQ(new_file[i]["reason"], "reload");
  }
  EXPECT_EQ(new_file[3]["event"], "session_delete");
  // Lookups in the new file alone know the 1:1 addresses held across the reload.
  telemetry::LookupQuery q;
  ASSERT_TRUE(telemetry::ParseLookupTarget("203.0.113.5", &q).ok());
  q.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  auto held = telemetry::LookupInLog(next.event_log.path, q);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].name, "pod-a");
  const auto decode = [](Collector& c, uint32_t domain) {
    Decoder dec;
    std::vector<uint64_t> events;
    for (const auto& m : c.Receive()) {
      DecodedMessage d = dec.Decode(m);
      EXPECT_EQ(d.domain, domain);
      for (const auto& rec : d.records) events.push_back(rec[230]);
    }
    return events;
  };
  EXPECT_EQ(decode(before, 42), (std::vector<uint64_t>{12, 12, 12, 1}));
  // The new collector's own templates come first, then the addresses held, then the delete.
  EXPECT_EQ(decode(after, 43), (std::vector<uint64_t>{12, 12, 12, 2}));
  log_.reset();  // before `next`, which it points at
}

// Same path, new limits: the file rotates at the new size and the rotation count goes on from
// the old file's. A new template interval alone keeps the collector's sequence numbers; IPFIX
// off stops the export.
TEST_P(EventLogTest, ReloadLimitsIntervalAndIpfixOff) {
  Collector collector;
  IpfixTo(&config_, collector, 42);
  config_.event_log.max_size_mb = 1.0 / 1024;  // 1 KiB
  OpenLog();
  SessionEvent e = EgressCreate();
  for (int i = 0; i < 10; ++i) log_->HandleForTest(e);
  log_->FlushForTest();
  const uint64_t rotations = log_->counters().rotations;
  ASSERT_GE(rotations, 1u);
  Decoder dec;
  uint32_t next_sequence = 0;
  for (const auto& m : collector.Receive()) {
    const DecodedMessage d = dec.Decode(m);
    next_sequence = d.sequence + static_cast<uint32_t>(d.records.size());
  }
  ASSERT_EQ(next_sequence, 13u);  // 3 bindings and 10 creates

  control::GatewayConfig next = config_;
  next.event_log.max_size_mb = 4.0 / 1024;
  next.event_log.keep_files = 3;
  next.ipfix.template_interval_s = 30;
  auto r = log_->PrepareReload(next);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->limits);
  EXPECT_EQ(r->file, nullptr);
  EXPECT_EQ(r->encoder, nullptr);  // the same collector and domain
  EXPECT_FALSE(r->sender.has_value());
  log_->CommitReload(std::move(*r), &next);
  for (int i = 0; i < 40; ++i) log_->HandleForTest(e);
  log_->FlushForTest();
  EXPECT_GT(log_->counters().rotations, rotations);  // never backwards
  for (const auto& f : telemetry::EventLogFiles(next.event_log.path)) {
    EXPECT_LE(std::filesystem::file_size(f), 4096u) << f;
  }
  const auto messages = collector.Receive();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(dec.Decode(messages[0]).sequence, next_sequence);  // the sequence goes on

  control::GatewayConfig off = next;
  off.ipfix = control::IpfixConfig{};
  auto r_off = log_->PrepareReload(off);
  ASSERT_TRUE(r_off.ok()) << r_off.status();
  log_->CommitReload(std::move(*r_off), &off);
  log_->HandleForTest(e);
  log_->FlushForTest();
  EXPECT_TRUE(collector.Receive().empty());
  log_.reset();  // before `next` and `off`
}

// EventLogTest is instantiated in event_log_test.cc.

}  // namespace
}  // namespace natgw::nat::testing
