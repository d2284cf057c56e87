#!/usr/bin/env python3
"""UDP echo for tests. server: udp_echo.py serve PORT   client: udp_echo.py ask HOST PORT TEXT
The server answers each datagram with "echo:<text> from <client ip>:<port>"."""
import socket
import sys

if sys.argv[1] == "serve":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(b"echo:" + data + f" from {addr[0]}:{addr[1]}".encode(), addr)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
    print(s.recvfrom(2048)[0].decode())
