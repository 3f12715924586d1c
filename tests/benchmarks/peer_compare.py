#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs bench_forward and the eager-PyTorch peer (peer_eager.py) on the same GPT-2-small-shaped
checkpoint, one length at a time and alternating, so that both see the same machine in the same
minutes, and prints the ratios the performance goals are stated in:

  ours bare / eager bare        (goal <= 0.90)
  ours summaries / ours bare    (goal <= 1.10)
  eager maps kept / eager bare  (what output_attentions costs the peer)

usage: /usr/bin/python3 tests/benchmarks/peer_compare.py --bench build/tests/benchmarks/bench_forward
           [--lengths 128,512,2048] [--reps 5] [--dir /tmp/sinkscope-gpt2] [--threads N] [--device cpu]
Run it with the Python that has Debian's python3-torch (apt-get install python3-torch).
"""
import argparse
import os
import subprocess
import sys
import tempfile


def results(cmd):
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    header = [line for line in proc.stdout.splitlines() if line.startswith(("threads:", "eager"))]
    return rows, header


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of the bench_forward program")
    ap.add_argument("--lengths", default="128,512,2048")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", help="checkpoint folder (written once by bench_forward; default: a temporary one)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda, for both programs")
    args = ap.parse_args()
    tmp = None
    folder = args.dir
    if not folder:
        tmp = tempfile.TemporaryDirectory(prefix="sinkscope-gpt2-")
        folder = tmp.name
    peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_eager.py")
    table = []
    for i, T in enumerate(int(t) for t in args.lengths.split(",")):
        ours_cmd = [args.bench, "--gpt2-only", "--gpt2-dir", folder, "--lengths", str(T), "--reps", str(args.reps),
                    "--modes", "bare,summaries", "--threads", str(args.threads), "--device", args.device]
        peer_cmd = [sys.executable, peer, "--model", folder, "--lengths", str(T), "--reps", str(args.reps),
                    "--threads", str(args.threads), "--device", args.device]
        # Alternate who goes first so neither always gets the cooler machine.
        order = [ours_cmd, peer_cmd] if i % 2 == 0 else [peer_cmd, ours_cmd]
        got = {}
        for cmd in order:
            rows, header = results(cmd)
            for h in header:
                print("#", h)
            for r in rows:
                got[r[1]] = [float(x) for x in r[3:]]
        ours, eager = got["gpt2"], got["eager"]
        # wall: ours [0] bare, [1] summaries; eager [0] bare, [1] maps. CPU: ours [4], [5]; eager [2], [3].
        table.append((T, ours[0], ours[1], eager[0], eager[1], ours[4], ours[5], eager[2], eager[3]))
        print(f"# T={T}: ours bare {ours[0]:.1f} ms, summaries {ours[1]:.1f} ms; eager bare {eager[0]:.1f} ms, "
              f"maps {eager[1]:.1f} ms", flush=True)
    print()
    print("Wall time (median ms):")
    print("| T | eager bare | eager maps kept | ours bare | ours summaries | ours bare / eager bare | "
          "summaries / ours bare |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for T, ob, os_, eb, em, *_ in table:
        print(f"| {T} | {eb:.1f} | {em:.1f} | {ob:.1f} | {os_:.1f} | {ob / eb:.2f}x | {os_ / ob:.2f}x |")
    print()
    print("CPU time (median ms, user + system of all threads; robust on a busy machine):")
    print("| T | eager bare | eager maps kept | ours bare | ours summaries | ours bare / eager bare | "
          "summaries / ours bare |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for T, *_, ob, os_, eb, em in table:
        print(f"| {T} | {eb:.1f} | {em:.1f} | {ob:.1f} | {os_:.1f} | {ob / eb:.2f}x | {os_ / ob:.2f}x |")


if __name__ == "__main__":
    main()
