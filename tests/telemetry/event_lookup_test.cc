// Times in and out (RFC 3339), lookup targets, and the rotating file of the event log.
#include "lib/telemetry/event_lookup.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "lib/telemetry/event_log.h"

namespace natgw::telemetry {
namespace {

TEST(EventLookupTest, ParsesRfc3339Times) {
  EXPECT_EQ(*ParseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTime("2026-11-26T10:15:00Z"), 1795688100000);
  EXPECT_EQ(*ParseTime("2026-11-26T10:15:00.25Z"), 1795688100250);
  EXPECT_EQ(*ParseTime("2026-11-26T11:15:00+01:00"), 1795688100000);
  EXPECT_EQ(*ParseTime("2026-11-26t10:15:00z"), 1795688100000);
  EXPECT_EQ(*ParseTime("2024-02-29T00:00:00Z"), 1709164800000);
  for (const char* bad : {"", "2026-11-26", "2026-11-26T10:15:00", "2026-13-01T00:00:00Z",
                          "2026-11-26T25:00:00Z", "2026-11-26T10:15:00Zjunk", "yesterday",
                          "2026-11-26T10:15:00.Z", "2026-02-30T00:00:00Z"}) {
    absl::StatusOr<int64_t> t = ParseTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("RFC 3339"), std::string::npos);
    }
  }
}

TEST(EventLookupTest, FormatsWhatItParses) {
  EXPECT_EQ(FormatTime(1795688100250), "2026-11-26T10:15:00.250Z");
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000Z");
  for (int64_t t : {int64_t{951782400123}, int64_t{1709164799999}, int64_t{4102444800000}}) {
    EXPECT_EQ(*ParseTime(FormatTime(t)), t);
  }
}

TEST(EventLookupTest, LookupTargets) {
  LookupQuery q;
  ASSERT_TRUE(ParseLookupTarget("203.0.113.9:40123", &q).ok());
  EXPECT_EQ(q.port, 40123);
  ASSERT_TRUE(ParseLookupTarget("203.0.113.9", &q).ok());
  EXPECT_EQ(q.port, 0);
  for (const char* bad : {"203.0.113", "203.0.113.9:", "203.0.113.9:0", "203.0.113.9:70000",
                          "host:80", "203.0.113.9#5"}) {
    EXPECT_FALSE(ParseLookupTarget(bad, &q).ok()) << bad;
  }
}

TEST(RotatingFileTest, RotatesBySizeAndKeepsTheNewestFiles) {
  const std::string dir = ::testing::TempDir() + "natgw-rotate-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/sub/log.jsonl";  // the directory is created
  {
    RotatingFile f(path, /*max_bytes=*/100, /*keep_files=*/2);
    ASSERT_TRUE(f.Open().ok());
    for (int i = 0; i < 10; ++i) {
      // 30 bytes + '\n': three lines fit in 100 bytes, the fourth starts a new file.
      std::string line = "line-" + std::to_string(i);
      line.resize(30, '.');
      ASSERT_TRUE(f.Append(line).ok());
    }
    ASSERT_TRUE(f.Flush().ok());
    EXPECT_EQ(f.rotations(), 3u);
  }
  const auto first_line = [](const std::string& p) {
    std::ifstream in(p);
    std::string l;
    std::getline(in, l);
    return l.substr(0, 6);
  };
  EXPECT_EQ(first_line(path), "line-9");
  EXPECT_EQ(first_line(path + ".1"), "line-6");
  EXPECT_EQ(first_line(path + ".2"), "line-3");
  EXPECT_FALSE(std::filesystem::exists(path + ".3")) << "the oldest file is removed";
  EXPECT_EQ(std::filesystem::file_size(path + ".1"), 93u);
  EXPECT_EQ(EventLogFiles(path), (std::vector<std::string>{path + ".2", path + ".1", path}));
  // Reopening appends and keeps counting the size already there.
  {
    RotatingFile f(path, 100, 2);
    ASSERT_TRUE(f.Open().ok());
    for (int i = 10; i < 13; ++i) ASSERT_TRUE(f.Append(std::string(30, 'x')).ok());
    ASSERT_TRUE(f.Flush().ok());
    EXPECT_EQ(f.rotations(), 1u);
  }
  EXPECT_EQ(first_line(path + ".1"), "line-9");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace natgw::telemetry
