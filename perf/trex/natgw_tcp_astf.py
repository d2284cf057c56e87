# TRex advanced stateful (ASTF) profile: TCP connections per second through natgw configured
# like conf/examples/two-islands/c1.toml. Clients are pods of island c1 (10.0.1.0..), the server
# is 192.0.2.200:80 on c1's outside network; each connection sends a small request and gets a
# small response, then closes. TRex's server side is a TCP stack, so it answers the translated
# source (an egress pool address) without knowing the NAT.
#
#   start -f perf/trex/natgw_tcp_astf.py -m 1 -t cps=100000,pods=1024
#
# natgw creates one egress session per connection; sessions stay tcp_transitory_s (240 s)
# after the close, so cps x 240 must fit in [limits] max_sessions (100k cps -> 24M: lower
# tcp_transitory_s in [timeouts] for long runs).
import argparse

from trex.astf.api import (ASTFAssociationRule, ASTFIPGen, ASTFIPGenDist, ASTFIPGenGlobal,
                           ASTFProfile, ASTFProgram, ASTFTCPClientTemplate,
                           ASTFTCPServerTemplate, ASTFTemplate)


def _ip(base, n):
    a = [int(x) for x in base.split(".")]
    v = (a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) + n
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


class NatgwTcpCps:
    def get_profile(self, tunables=(), **kwargs):
        p = argparse.ArgumentParser(prog="natgw_tcp_astf.py")
        p.add_argument("--cps", type=float, default=10000, help="new connections per second")
        p.add_argument("--pods", type=int, default=1024, help="client pods from 10.0.1.0")
        p.add_argument("--server", default="192.0.2.200")
        a = p.parse_args(list(tunables))
        request = b"GET / HTTP/1.1\r\nHost: natgw-bench\r\n\r\n"
        response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        client = ASTFProgram()
        client.send(request)
        client.recv(len(response))
        server = ASTFProgram()
        server.recv(len(request))
        server.send(response)
        ip_gen = ASTFIPGen(
            glob=ASTFIPGenGlobal(ip_offset="0.0.0.0"),
            dist_client=ASTFIPGenDist(ip_range=["10.0.1.0", _ip("10.0.1.0", a.pods - 1)],
                                      distribution="seq"),
            dist_server=ASTFIPGenDist(ip_range=[a.server, a.server], distribution="seq"))
        template = ASTFTemplate(
            client_template=ASTFTCPClientTemplate(program=client, ip_gen=ip_gen, cps=a.cps,
                                                  port=80),
            server_template=ASTFTCPServerTemplate(program=server,
                                                  assoc=ASTFAssociationRule(port=80)))
        return ASTFProfile(default_ip_gen=ip_gen, templates=template)


def register():
    return NatgwTcpCps()
