#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The computation bench_forward times, as a researcher would write it in eager PyTorch.

A GPT-2 forward pass written from the model definition (learned positions, pre-LN blocks, Conv1D
projections stored [in, out], explicit softmax attention with a causal mask, tanh-GELU MLP, final
LayerNorm, output head tied to the token embedding), on a checkpoint folder written by
`bench_forward --gpt2-dir DIR`. Two modes, like `output_attentions`:
  bare   the maps are dropped as soon as each layer has used them
  maps   every layer's [H, T, T] probabilities are kept until the pass ends

Needs Debian's python3-torch (`apt-get install python3-torch`: the same libtorch 1.13 the C++
program links). It is a benchmark, not a test dependency.

usage: peer_eager.py --model DIR [--lengths 128,512] [--reps 5] [--threads N]
prints: RESULT eager <T> <bare ms> <maps ms> <bare CPU ms> <maps CPU ms>
"""
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn.functional as F


def physical_cores():
    """Distinct (package, core) pairs among the CPUs this process may use (the C++ rule)."""
    seen = set()
    for cpu in os.sched_getaffinity(0):
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(base + "physical_package_id") as p, open(base + "core_id") as c:
                seen.add((int(p.read()), int(c.read())))
        except OSError:
            seen.add(("cpu", cpu))
    return max(1, len(seen))


def read_safetensors(path):
    """float32 tensors of a .safetensors file, by name (the header is JSON after an 8-byte length)."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        blob = bytearray(f.read())
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"error: {name} is {info['dtype']}; this script reads float32 checkpoints")
        begin, end = info["data_offsets"]
        tensors[name] = torch.frombuffer(blob, dtype=torch.float32, count=(end - begin) // 4,
                                         offset=begin).reshape(info["shape"])
    return tensors


class Gpt2:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.layers = cfg["n_layer"]
        self.heads = cfg["n_head"]
        self.dim = cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        act = cfg.get("activation_function", "gelu_new")
        self.gelu = "tanh" if act in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast") else "none"
        w = read_safetensors(os.path.join(folder, "model.safetensors"))
        self.w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}

    def forward(self, ids, keep_maps):
        w, D, H = self.w, self.dim, self.heads
        hd = D // H
        T = ids.numel()
        x = w["wte.weight"][ids] + w["wpe.weight"][:T]
        mask = torch.full((T, T), float("-inf")).triu(1)
        maps = []
        for l in range(self.layers):
            p = f"h.{l}."
            h = F.layer_norm(x, (D,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
            q, k, v = (t.view(T, H, hd).transpose(0, 1) for t in qkv.split(D, dim=1))
            scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(hd) + mask
            probs = torch.softmax(scores, dim=-1)
            if keep_maps:
                maps.append(probs)
            ctx = torch.matmul(probs, v).transpose(0, 1).reshape(T, D)
            x = x + torch.addmm(w[p + "attn.c_proj.bias"], ctx, w[p + "attn.c_proj.weight"])
            h = F.layer_norm(x, (D,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            m = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]), approximate=self.gelu)
            x = x + torch.addmm(w[p + "mlp.c_proj.bias"], m, w[p + "mlp.c_proj.weight"])
        x = F.layer_norm(x, (D,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return x @ w["wte.weight"].t(), maps


def median_ms(fn, reps):
    """Median wall and CPU (process_time: user + system, all threads) milliseconds after a warm-up."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    wall.sort()
    cpu.sort()
    return wall[len(wall) // 2], cpu[len(cpu) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder written by bench_forward --gpt2-dir")
    ap.add_argument("--lengths", default="128,512")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="0: one per physical core (as sinkscope)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or physical_cores())
    print(f"eager PyTorch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}", flush=True)
    model = Gpt2(args.model)
    if args.device != "cpu":
        model.w = {k: v.to(args.device) for k, v in model.w.items()}
    vocab = model.w["wte.weight"].shape[0]
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        for T in (int(t) for t in args.lengths.split(",")):
            # The ids bench_forward uses.
            ids = torch.tensor([(t * 7919 + 13) % vocab for t in range(T)], dtype=torch.long, device=args.device)

            def run(keep):
                out = model.forward(ids, keep)
                sync()
                return out

            bare, bare_cpu = median_ms(lambda: run(False), args.reps)
            maps, maps_cpu = median_ms(lambda: run(True), args.reps)
            print(f"RESULT eager {T} {bare:.3f} {maps:.3f} {bare_cpu:.3f} {maps_cpu:.3f}", flush=True)


if __name__ == "__main__":
    main()
