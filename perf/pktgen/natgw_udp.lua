-- pktgen-dpdk range script: established UDP flows through natgw configured like
-- conf/examples/two-islands/c1.toml (wiring: perf/README.md). Port 0 faces natgw's c1-inside
-- and sends pods 10.0.1.0-10.0.2.252 x source ports 1024-2047 to 192.0.2.200:9 (egress pool
-- NAPT); port 1 faces c1-outside and sends 192.0.2.200:9 to pod-a's unique address
-- 203.0.113.5, destination ports 1024-2047 (1:1, no session needed).
--
--   pktgen -l 0-4 -n 4 -- -P -m "[1:2].0,[3:4].1" -f perf/pktgen/natgw_udp.lua
--
-- Set the two MACs below to natgw's port MACs (natgwctl show interfaces).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local natgw_inside_mac = "02:00:00:00:00:01"
local natgw_outside_mac = "02:00:00:00:00:02"

-- One range: start, step, min, max (addresses as strings, ports and sizes as numbers).
local function range(port, what, start, inc, min, max)
  pktgen.range[what](port, "start", start)
  pktgen.range[what](port, "inc", inc)
  pktgen.range[what](port, "min", min)
  pktgen.range[what](port, "max", max)
end

-- Port 0: pods -> external server. pktgen steps every range on every packet, so the flows are
-- the pairs (pod i mod 509, port i mod 1024); 509 and 1024 share no factor, so that is
-- 509 x 1024 = 521,216 distinct flows before the sequence repeats (with 512 pods it would be
-- only 1024).
pktgen.range.dst_mac("0", "start", natgw_inside_mac)
range("0", "src_ip", "10.0.1.0", "0.0.0.1", "10.0.1.0", "10.0.2.252")
range("0", "dst_ip", "192.0.2.200", "0.0.0.0", "192.0.2.200", "192.0.2.200")
range("0", "src_port", 1024, 1, 1024, 2047)
range("0", "dst_port", 9, 0, 9, 9)
pktgen.range.ip_proto("0", "udp")
range("0", "pkt_size", 64, 0, 64, 64)

-- Port 1: external server -> pod-a's unique address.
pktgen.range.dst_mac("1", "start", natgw_outside_mac)
range("1", "src_ip", "192.0.2.200", "0.0.0.0", "192.0.2.200", "192.0.2.200")
range("1", "dst_ip", "203.0.113.5", "0.0.0.0", "203.0.113.5", "203.0.113.5")
range("1", "src_port", 9, 0, 9, 9)
range("1", "dst_port", 1024, 1, 1024, 2047)
pktgen.range.ip_proto("1", "udp")
range("1", "pkt_size", 64, 0, 64, 64)

pktgen.set_range("all", "on")
pktgen.start("all")
