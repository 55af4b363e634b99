#!/usr/bin/env python3
"""PyTorch peer of `autoslim bench`: the same slimmable networks, widths and step semantics in
eager PyTorch, timed on the same GPU in the same command (scripts/bench_gpu.sh).

Networks (as autoslim's): `conv8`, eight 3x3 conv-BN-ReLU layers 64-64-128-128-256-256-512-512,
strides 1,1,2,1,2,1,2,1, global pooling and a linear layer, on 32x32 images, 10 classes; and
`mobilenet_v2`, MobileNetV2 x1.0 at 224x224 with 1000 classes, and `mobilenet_v2_small`, the same
with a stride-1 stem on 28x28 grey images with 10 classes (the Fashion-MNIST config's model).
Each channel group uses the first
k = round(C*r) channels (ties to even, as Python's round), or make_divisible(C*r, divisor).

Steps: `plain` is cross-entropy at full width; `sandwich` is AutoSlim's: the max width with
cross-entropy, then the min width and two random widths (each group drawing its own ratio from
2/12..12/12) with KL divergence against the max width's detached logits, one backward per
width, gradients summed, one SGD step (momentum 0.9, Nesterov, weight decay 5e-4). BatchNorm
uses batch statistics of the active channels. fp32 weights, TF32 matmuls and convs allowed;
with `--amp bf16` the forward passes run under `torch.autocast` in bfloat16 (PyTorch's mixed
precision: convs and matmuls in bf16, fp32 weights and optimizer), the peer of autoslim's
`AUTOSLIM_GEMM_PRECISION=bf16`.

Every figure is printed as `RESULT {json}`.
"""
import argparse
import json
import random
import time

PROCESS_START = time.time()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RATIOS = [i / 12 for i in range(2, 13)]


def make_divisible(value, divisor):
    rounded = max(divisor, int((value + divisor / 2) // divisor) * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def channels(full, ratio, divisor):
    if divisor is None:
        return max(1, round(full * ratio))
    return min(full, make_divisible(full * ratio, divisor))


class ConvBn(nn.Module):
    """A conv and its BN, run on a prefix of their channels."""

    def __init__(self, c_in, c_out, kernel, stride, depthwise=False):
        super().__init__()
        self.stride, self.pad, self.depthwise = stride, kernel // 2, depthwise
        per_group = 1 if depthwise else c_in
        self.weight = nn.Parameter(torch.empty(c_out, per_group, kernel, kernel))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.gamma = nn.Parameter(torch.ones(c_out))
        self.beta = nn.Parameter(torch.zeros(c_out))

    def forward(self, x, c_out):
        c_in = x.shape[1]
        if self.depthwise:
            w = self.weight[:c_in]
            y = F.conv2d(x, w, None, self.stride, self.pad, 1, c_in)
            c_out = c_in
        else:
            w = self.weight[:c_out, :c_in]
            y = F.conv2d(x, w, None, self.stride, self.pad)
        return F.batch_norm(y, None, None, self.gamma[:c_out], self.beta[:c_out], training=True)


class SlimLinear(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.fc = nn.Linear(c_in, c_out)

    def forward(self, x):
        return F.linear(x, self.fc.weight[:, : x.shape[1]], self.fc.bias)


class Conv8(nn.Module):
    WIDTHS = [64, 64, 128, 128, 256, 256, 512, 512]
    STRIDES = [1, 1, 2, 1, 2, 1, 2, 1]

    def __init__(self):
        super().__init__()
        c_in, layers = 3, []
        for c, s in zip(self.WIDTHS, self.STRIDES):
            layers.append(ConvBn(c_in, c, 3, s))
            c_in = c
        self.layers = nn.ModuleList(layers)
        self.head = SlimLinear(512, 10)
        self.groups = list(self.WIDTHS)

    def forward(self, x, widths):
        for layer, c in zip(self.layers, widths):
            x = F.relu(layer(x, c))
        return self.head(x.mean((2, 3)))


STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """Groups: stem, each stage's output, each expanding block's hidden channels, last conv."""

    def __init__(self, small=False):
        super().__init__()
        self.groups = [32]
        self.stem = ConvBn(1, 32, 3, 1) if small else ConvBn(3, 32, 3, 2)
        blocks, c_in, g_in = [], 32, 0
        for expand, c, n, s in STAGES:
            c_out = make_divisible(c, 8)
            g_out = len(self.groups)
            self.groups.append(c_out)
            for j in range(n):
                stride = s if j == 0 else 1
                convs, g_hidden = [], g_in
                if expand != 1:
                    hidden = round(c_in * expand)
                    g_hidden = len(self.groups)
                    self.groups.append(hidden)
                    convs.append((ConvBn(c_in, hidden, 1, 1), g_hidden, True))
                else:
                    hidden = c_in
                convs.append((ConvBn(hidden, hidden, 3, stride, depthwise=True), g_hidden, True))
                convs.append((ConvBn(hidden, c_out, 1, 1), g_out, False))
                residual = stride == 1 and c_in == c_out
                blocks.append((convs, residual))
                c_in, g_in = c_out, g_out
        self.block_layers = nn.ModuleList(nn.ModuleList(m for m, _, _ in convs) for convs, _ in blocks)
        self.plan = [([(g, act) for _, g, act in convs], residual) for convs, residual in blocks]
        self.last_group = len(self.groups)
        self.groups.append(1280)
        self.last = ConvBn(c_in, 1280, 1, 1)
        self.head = SlimLinear(1280, 10 if small else 1000)

    def forward(self, x, widths):
        x = F.relu6(self.stem(x, widths[0]))
        for layers, (plan, residual) in zip(self.block_layers, self.plan):
            y = x
            for layer, (g, act) in zip(layers, plan):
                y = layer(y, widths[g])
                if act:
                    y = F.relu6(y)
            x = x + y if residual else y
        x = F.relu6(self.last(x, widths[self.last_group]))
        return self.head(x.mean((2, 3)))


def sync():
    torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="conv8", choices=["conv8", "mobilenet_v2", "mobilenet_v2_small"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--mode", nargs="+", default=["plain", "sandwich", "widths"])
    parser.add_argument("--divisor", type=int, default=None)
    parser.add_argument("--amp", choices=["none", "bf16"], default="none", help="autocast the forward passes to bfloat16")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    random.seed(0)
    device = "cuda"
    small = args.model == "mobilenet_v2_small"
    model = (Conv8() if args.model == "conv8" else MobileNetV2(small)).to(device)
    size, classes, in_channels = {"conv8": (32, 10, 3), "mobilenet_v2": (224, 1000, 3), "mobilenet_v2_small": (28, 10, 1)}[args.model]
    images = torch.randn(args.batch, in_channels, size, size, device=device)
    targets = torch.randint(0, classes, (args.batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    groups = model.groups
    amp = args.amp == "bf16"
    autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp)
    common = {"backend": "pytorch " + torch.__version__ + (" bf16 autocast" if amp else ""), "model": args.model, "batch": args.batch, "divisor": args.divisor or 1}

    def report(**fields):
        print("RESULT " + json.dumps({**common, **fields}), flush=True)

    def uniform(r):
        return [channels(c, r, args.divisor) for c in groups]

    def plain_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(model(images, uniform(1.0)), targets)
        loss.backward()
        optimizer.step()

    def sandwich_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = model(images, uniform(1.0)).float()
            loss = F.cross_entropy(logits, targets)
        loss.backward()
        teacher = F.softmax(logits.detach(), dim=1)
        subnets = [uniform(RATIOS[0])] + [[channels(c, random.choice(RATIOS), args.divisor) for c in groups] for _ in range(2)]
        for widths in subnets:
            with autocast():
                student = F.log_softmax(model(images, widths).float(), dim=1)
                loss = F.kl_div(student, teacher, reduction="batchmean")
            loss.backward()
        optimizer.step()

    print(f"{args.model}: {len(groups)} channel groups, batch {args.batch}, {args.iters} timed steps after {args.warmup} warm-up")
    first = True
    for mode in args.mode:
        if mode == "widths":
            for r in RATIOS:
                widths = uniform(r)

                def run_pass():
                    with autocast():
                        loss = F.cross_entropy(model(images, widths), targets)
                    loss.backward()

                for _ in range(args.warmup):
                    run_pass()
                sync()
                t = time.time()
                for _ in range(args.iters):
                    run_pass()
                sync()
                ms = (time.time() - t) * 1e3 / args.iters
                print(f"  width {r:.3f}: forward+backward {ms:.2f} ms")
                report(mode="width", ratio=round(r, 4), ms=round(ms, 3))
            continue
        step = plain_step if mode == "plain" else sandwich_step
        torch.cuda.reset_peak_memory_stats()
        t = time.time()
        step()
        sync()
        first_ms = (time.time() - t) * 1e3
        if first:
            since = time.time() - PROCESS_START
            print(f"  time to the first step (process start to the end of a {mode} step): {since:.1f} s")
            report(mode="first_step", s=round(since, 3))
            first = False
        for _ in range(args.warmup - 1):
            step()
        sync()
        t = time.time()
        for _ in range(args.iters):
            step()
        sync()
        ms = (time.time() - t) * 1e3 / args.iters
        ips = args.batch / (ms / 1e3)
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
        print(f"  {mode} step: {ms:.1f} ms, {ips:.0f} img/s (first step {first_ms:.0f} ms), peak allocated {peak:.0f} MiB")
        report(mode=mode, ms=round(ms, 3), img_per_s=round(ips, 1), first_ms=round(first_ms, 1), peak_mib=round(peak, 1))


if __name__ == "__main__":
    main()
