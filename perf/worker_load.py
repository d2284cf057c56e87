#!/usr/bin/env python3
"""natgw's worker load beside a benchmark run: was natgw the bottleneck, or did it wait?

  worker_load.py sample TELEMETRY_SOCKET OUT_FILE [--interval S] [--wait S]
      Asks natgw's DPDK telemetry socket (/var/run/dpdk/<file_prefix>/dpdk_telemetry.v2) for
      /natgw/workers every S seconds (default 0.25) and appends one line per answer to OUT_FILE:
      the wall-clock time (seconds since the epoch), then each worker's busy and total loop
      cycles. Waits up to --wait seconds (default 30) for the socket to appear; ends when natgw
      goes away, or on SIGTERM / SIGINT.
  worker_load.py busy OUT_FILE RESULT_JSON
      Prints the share of natgw's worker time spent in loops that received frames over the load
      generator's measured interval (natgw-loadgen's JSON: start_unix, seconds), all workers
      together, or "-" when the samples do not cover it.

A worker loop is busy when its poll received a frame; the loop's cycles up to the next poll
count as busy. A worker far from 100 % busy waited for frames: the generator (or the wiring) set
the rate, not natgw. natgw refreshes the figures every 250-350 ms, so an answer may be that much
older than its sample: samples from the interval's first 400 ms are left out.
"""
import json
import signal
import socket
import sys
import time

COMMAND = "/natgw/workers"
# natgw's control thread publishes its telemetry when 250 ms have passed, checking at least
# every 100 ms: a sample describes some moment of the 350 ms before it was taken.
STALE_S = 0.4


def parse_sample(reply):
    """[(busy, total), ...] per worker from a /natgw/workers answer; None when it has no workers
    (natgw answers so until its dataplane runs)."""
    try:
        w = reply[COMMAND]
        return [(int(w[str(i)]["busy_cycles"]), int(w[str(i)]["total_cycles"]))
                for i in range(int(w["count"]))] or None
    except (KeyError, TypeError, ValueError):
        return None


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)  # a natgw that stopped answering ends the sampling, not the benchmark
    s.connect(path)
    s.recv(16384)  # the greeting: version, pid, max_output_len
    return s


def sample(path, out_path, interval, wait):
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    deadline = time.time() + wait
    s = None
    while s is None and not stop:
        try:
            s = connect(path)
        except OSError:
            if time.time() > deadline:
                print(f"worker_load.py: no telemetry socket {path} after {wait} s", file=sys.stderr)
                return 1
            time.sleep(0.1)
    with open(out_path, "a") as out:
        while not stop:
            try:
                s.send(COMMAND.encode())
                reply = json.loads(s.recv(65536))
            except (OSError, ValueError):
                break  # natgw is gone
            if not isinstance(reply, dict) or COMMAND not in reply:
                break  # not natgw's telemetry
            cycles = parse_sample(reply)
            if cycles is not None:
                out.write(f"{time.time():.3f} {' '.join(f'{b} {t}' for b, t in cycles)}\n")
                out.flush()
            time.sleep(interval)
    if s is not None:
        s.close()
    return 0


def read_samples(path):
    """[(unix_time, [(busy, total), ...]), ...] from a sample file; unreadable lines skipped."""
    samples = []
    try:
        with open(path) as f:
            for line in f:
                v = line.split()
                if len(v) < 3 or len(v) % 2 != 1:
                    continue
                try:
                    t = float(v[0])
                    cycles = [(int(v[i]), int(v[i + 1])) for i in range(1, len(v), 2)]
                except ValueError:
                    continue
                samples.append((t, cycles))
    except OSError:
        pass
    return samples


def busy_in_window(samples, start, seconds):
    """Busy share of all workers between the first and last sample taken in
    [start + STALE_S, start + seconds] (so describing moments inside [start, start + seconds]),
    or None when fewer than two samples lie there."""
    lo, hi = start + STALE_S, start + seconds
    inside = [c for t, c in samples if lo <= t <= hi]
    if len(inside) < 2 or len(inside[0]) != len(inside[-1]):
        return None
    busy = sum(b1 - b0 for (b0, _), (b1, _) in zip(inside[0], inside[-1]))
    total = sum(t1 - t0 for (_, t0), (_, t1) in zip(inside[0], inside[-1]))
    if total <= 0:
        return None
    return min(1.0, max(0.0, busy / total))


def busy_of_run(load_path, result):
    """busy_in_window for a natgw-loadgen result (a dict), or None."""
    start, seconds = result.get("start_unix", 0), result.get("seconds", 0)
    if not start or not seconds:
        return None
    return busy_in_window(read_samples(load_path), start, seconds)


def main(argv):
    if len(argv) >= 4 and argv[1] == "sample":
        interval, wait = 0.25, 30.0
        rest = argv[4:]
        while rest:
            if rest[0] == "--interval" and len(rest) > 1:
                interval = float(rest[1])
            elif rest[0] == "--wait" and len(rest) > 1:
                wait = float(rest[1])
            else:
                print(__doc__, file=sys.stderr)
                return 2
            rest = rest[2:]
        return sample(argv[2], argv[3], interval, wait)
    if len(argv) == 4 and argv[1] == "busy":
        try:
            with open(argv[3]) as f:
                result = json.load(f)
        except (OSError, ValueError) as e:
            print(f"worker_load.py: {argv[3]}: {e}", file=sys.stderr)
            return 1
        b = busy_of_run(argv[2], result)
        print("-" if b is None else f"{b:.3f}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
