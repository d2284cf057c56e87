# TRex stateless profile: established UDP flows through natgw configured like
# conf/examples/two-islands/c1.toml (see perf/README.md for the wiring and trex_cfg.yaml).
#
#   port 0 -> natgw c1-inside: pods 10.0.1.0.. (island c1) x source ports -> 192.0.2.200:9,
#             translated by the egress pool 192.0.2.16/28 (NAPT)
#   port 1 -> natgw c1-outside: 192.0.2.200:9 -> 203.0.113.5 (pod-a's unique address, 1:1,
#             ports untouched), so the out2in path is loaded without a stateful generator
#
#   start -f perf/trex/natgw_udp_stl.py -m 10mpps -p 0 1 -t pods=512,ports=1024,size=64
#
# Flows = pods x ports (pod address varies fastest). Egress pooling is paired (one pod, one pool
# address): keep pods/16 x ports under the 64512 ports of one address, e.g. 512 x 1024 = 524288
# flows. UDP checksums are sent as 0 ("none"; natgw keeps them 0), so no checksum offload is
# needed on the TRex side.
import argparse

from trex_stl_lib.api import (STLProfile, STLPktBuilder, STLScVmRaw, STLStream, STLTXCont,
                              STLVmFixIpv4, STLVmFlowVar, STLVmTupleGen, STLVmWrFlowVar)
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether


def _ip(base, n):
    a = [int(x) for x in base.split(".")]
    v = (a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) + n
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


class NatgwUdp:
    def get_streams(self, tunables=(), direction=0, **kwargs):
        p = argparse.ArgumentParser(prog="natgw_udp_stl.py")
        p.add_argument("--pods", type=int, default=512, help="pods from 10.0.1.0")
        p.add_argument("--ports", type=int, default=1024, help="source ports from 1024")
        p.add_argument("--size", type=int, default=64, help="frame size with FCS")
        p.add_argument("--server", default="192.0.2.200")
        p.add_argument("--unique", default="203.0.113.5", help="a pod's unique address")
        a = p.parse_args(list(tunables))
        pad = max(0, a.size - 4 - 42)
        if direction == 0:
            pkt = Ether() / IP(src="10.0.1.0", dst=a.server) / UDP(sport=1024, dport=9, chksum=0)
            vm = STLScVmRaw([
                STLVmTupleGen(name="t", ip_min="10.0.1.0", ip_max=_ip("10.0.1.0", a.pods - 1),
                              port_min=1024, port_max=1024 + a.ports - 1),
                STLVmWrFlowVar(fv_name="t.ip", pkt_offset="IP.src"),
                STLVmWrFlowVar(fv_name="t.port", pkt_offset="UDP.sport"),
                STLVmFixIpv4(offset="IP"),
            ])
        else:
            pkt = Ether() / IP(src=a.server, dst=a.unique) / UDP(sport=9, dport=1024, chksum=0)
            vm = STLScVmRaw([
                STLVmFlowVar(name="dport", min_value=1024, max_value=1024 + a.ports - 1,
                             size=2, op="inc"),
                STLVmWrFlowVar(fv_name="dport", pkt_offset="UDP.dport"),
            ])
        return [STLStream(packet=STLPktBuilder(pkt=pkt / (b"\x00" * pad), vm=vm),
                          mode=STLTXCont())]


def register():
    return NatgwUdp()
