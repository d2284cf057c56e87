#!/usr/bin/env python3
"""A minimal IPFIX collector for the event log test, written from RFC 7011 independently of natgw:
receives messages on UDP, learns templates, decodes data records and writes one JSON line per
record to OUT: {"domain": N, "template": ID, "fields": {"IE": value, ...}}.

Usage: ipfix_collector.py ADDRESS PORT OUT
"""
import json
import socket
import struct
import sys


def main():
    address, port, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    templates = {}  # (domain, template id) -> [(ie, length)]
    with open(out_path, "a", buffering=1) as out:
        while True:
            msg, _ = sock.recvfrom(65535)
            if len(msg) < 16:
                continue
            version, length, export_time, sequence, domain = struct.unpack_from("!HHIII", msg, 0)
            if version != 10 or length != len(msg):
                out.write(json.dumps({"error": "bad header", "version": version}) + "\n")
                continue
            pos = 16
            while pos + 4 <= length:
                set_id, set_len = struct.unpack_from("!HH", msg, pos)
                if set_len < 4:
                    break
                end = pos + set_len
                p = pos + 4
                if set_id == 2:  # template set
                    while p + 4 <= end:
                        tid, count = struct.unpack_from("!HH", msg, p)
                        p += 4
                        fields = []
                        for _ in range(count):
                            ie, flen = struct.unpack_from("!HH", msg, p)
                            p += 4
                            fields.append((ie, flen))
                        templates[(domain, tid)] = fields
                elif set_id >= 256 and (domain, set_id) in templates:
                    fields = templates[(domain, set_id)]
                    size = sum(f[1] for f in fields)
                    while p + size <= end:
                        rec = {}
                        for ie, flen in fields:
                            raw = msg[p:p + flen]
                            p += flen
                            if flen == 4 and ie in (8, 12, 225, 226):
                                rec[str(ie)] = socket.inet_ntoa(raw)
                            else:
                                rec[str(ie)] = int.from_bytes(raw, "big")
                        out.write(json.dumps({"domain": domain, "sequence": sequence,
                                              "template": set_id, "fields": rec}) + "\n")
                pos = end


if __name__ == "__main__":
    main()
