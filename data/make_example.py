#!/usr/bin/python3
"""Make exitplan's small real example: per-exit logits of a multi-exit CNN on Fashion-MNIST.

Trains a small 6-block CNN on Fashion-MNIST on the CPU, attaches an exit head after each of the
first five blocks ("IC-only": backbone trained first with its final classifier, then frozen, then
each head trained with its own cross-entropy loss), dumps the raw logits of all 6 exits on a val
and a test split in exitplan's dump format, and measures per-exit costs (analytical FLOPs and
batch-1 single-thread CPU latency).

Run with Debian's Python (the pyenv python3 on PATH has no torch):

    apt-get install -y --no-install-recommends \
        python3-torch python3-numpy python3-yaml dataset-fashion-mnist
    /usr/bin/python3 data/make_example.py            # writes data/example/

Nothing is downloaded: the images are the IDX files of Debian's dataset-fashion-mnist.
Takes about one to two minutes on 2 cores. See data/README.md for what it produces.
"""

import argparse
import gzip
import os
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

# ---------------------------------------------------------------------------------------------
# Settings. Every random choice is driven by SEED (see the "Seeds" section of data/README.md).
# ---------------------------------------------------------------------------------------------
SEED = 0
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
N_VAL = 5000  # val: 5000 images of the official training set (fixed random subset)
N_TEST = 5000  # test: the first 5000 images of the official test set
TRAIN_THREADS = 2  # the machine has 2 cores

# Backbone: one conv3x3 + BN + ReLU per block; (out channels, stride) of blocks 1..6.
BLOCKS = [(8, 1), (16, 2), (16, 1), (32, 2), (32, 1), (32, 1)]  # 28x28 -> 14x14 -> 7x7
HEAD_POOL = 4  # exit heads: AdaptiveAvgPool2d(4) + Linear(C*16 -> 10)
NUM_CLASSES = 10

BACKBONE_EPOCHS = 3
BACKBONE_BATCH = 128
BACKBONE_MAX_LR = 0.1  # SGD, Nesterov momentum 0.9, weight decay 5e-4, OneCycle schedule
HEAD_EPOCHS = 2
HEAD_BATCH = 128
HEAD_LR = 2e-3  # Adam, cosine-annealed to 0

LATENCY_WARMUP = 50
LATENCY_RUNS = 500


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def read_idx(path, magic, ndim):
    """Read a gzipped IDX file (big-endian header: magic, then one uint32 per dimension)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        raise ValueError(f"{path}: magic {got:#x}, expected {magic:#x}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_splits():
    """Return dict split -> (images float32 [N,1,28,28] normalised, labels int64 [N]) and info."""
    d = FMNIST_DIR
    x_train = read_idx(f"{d}/train-images-idx3-ubyte.gz", 0x803, 3)
    y_train = read_idx(f"{d}/train-labels-idx1-ubyte.gz", 0x801, 1).astype(np.int64)
    x_test = read_idx(f"{d}/t10k-images-idx3-ubyte.gz", 0x803, 3)
    y_test = read_idx(f"{d}/t10k-labels-idx1-ubyte.gz", 0x801, 1).astype(np.int64)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)

    # Split the official 60k training images with a fixed permutation: its first N_VAL entries
    # (sorted ascending, so val rows follow the official order) are val, the rest are train.
    perm = np.random.RandomState(SEED).permutation(len(x_train))
    val_idx = np.sort(perm[:N_VAL])
    train_idx = np.sort(perm[N_VAL:])
    test_idx = np.arange(N_TEST)  # first N_TEST images of the official test set

    # pixel/255, normalised with the mean/std of the train split only. No augmentation.
    train_pixels = x_train[train_idx].astype(np.float32) / 255.0
    mean, std = float(train_pixels.mean()), float(train_pixels.std())

    def prep(x):
        x = (x.astype(np.float32) / 255.0 - mean) / std
        return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :]))

    splits = {
        "train": (prep(x_train[train_idx]), torch.from_numpy(y_train[train_idx])),
        "val": (prep(x_train[val_idx]), torch.from_numpy(y_train[val_idx])),
        "test": (prep(x_test[test_idx]), torch.from_numpy(y_test[test_idx])),
    }
    return splits, {"mean": mean, "std": std}


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------
def block_shapes():
    """(C, H, W) of the input and of each block's output."""
    shapes, c, h = [(1, 28, 28)], 1, 28
    for out, stride in BLOCKS:
        h = (h + 2 - 3) // stride + 1  # conv3x3, padding 1
        c = out
        shapes.append((c, h, h))
    return shapes


class Backbone(nn.Module):
    """Plain CNN: blocks of Conv3x3 (no bias) + BatchNorm + ReLU; final classifier GAP + Linear."""

    def __init__(self):
        super().__init__()
        blocks, cin = [], 1
        for cout, stride in BLOCKS:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                )
            )
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.classifier = FinalHead(cin)

    def features(self, x):
        """Output of every block, shallow -> deep."""
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out

    def forward(self, x):
        return self.classifier(self.features(x)[-1])


class FinalHead(nn.Module):
    """The backbone's own classifier: global average pool + Linear(C -> 10)."""

    def __init__(self, channels):
        super().__init__()
        self.fc = nn.Linear(channels, NUM_CLASSES)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class ExitHead(nn.Module):
    """Early-exit head: AdaptiveAvgPool2d(HEAD_POOL) + flatten + Linear(C*HEAD_POOL^2 -> 10)."""

    def __init__(self, channels):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(HEAD_POOL)
        self.fc = nn.Linear(channels * HEAD_POOL * HEAD_POOL, NUM_CLASSES)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(x), 1))


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def batches(n, batch, generator):
    """Shuffled index batches of one epoch (last partial batch dropped), order from generator."""
    order = torch.randperm(n, generator=generator)
    for i in range(n // batch):
        yield order[i * batch : (i + 1) * batch]


def train_backbone(net, x, y, generator):
    """Backbone + final classifier, plain cross-entropy, SGD + OneCycle."""
    steps_per_epoch = len(x) // BACKBONE_BATCH
    opt = torch.optim.SGD(
        net.parameters(), lr=BACKBONE_MAX_LR, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=BACKBONE_MAX_LR, total_steps=BACKBONE_EPOCHS * steps_per_epoch, pct_start=0.25
    )
    net.train()
    for epoch in range(BACKBONE_EPOCHS):
        total, correct, loss_sum = 0, 0, 0.0
        for idx in batches(len(x), BACKBONE_BATCH, generator):
            logits = net(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y[idx]).sum().item()
            total += len(idx)
        print(f"  backbone epoch {epoch + 1}: loss {loss_sum / total:.4f}, "
              f"train acc {correct / total:.4f}")


def train_heads(net, heads, x, y, generator):
    """IC-only: the backbone is frozen (eval mode, no gradients); each head has its own CE loss.

    The heads are trained in one loop on the same batches; since the features carry no gradient,
    the summed loss gives each head exactly the gradient of its own loss.
    """
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    steps_per_epoch = len(x) // HEAD_BATCH
    opt = torch.optim.Adam(heads.parameters(), lr=HEAD_LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=HEAD_EPOCHS * steps_per_epoch)
    heads.train()
    for epoch in range(HEAD_EPOCHS):
        loss_sums, total = [0.0] * len(heads), 0
        for idx in batches(len(x), HEAD_BATCH, generator):
            with torch.no_grad():
                feats = net.features(x[idx])
            losses = [F.cross_entropy(h(f), y[idx]) for h, f in zip(heads, feats)]
            opt.zero_grad()
            sum(losses).backward()
            opt.step()
            sched.step()
            for k, l in enumerate(losses):
                loss_sums[k] += l.item() * len(idx)
            total += len(idx)
        print(f"  heads epoch {epoch + 1}: losses "
              + " ".join(f"{s / total:.4f}" for s in loss_sums))
    heads.eval()


@torch.no_grad()
def all_exit_logits(net, heads, x, batch=1000):
    """float32 [N, K, C]: early heads shallow -> deep, then the final classifier."""
    out = []
    for i in range(0, len(x), batch):
        feats = net.features(x[i : i + batch])
        logits = [h(f) for h, f in zip(heads, feats)] + [net.classifier(feats[-1])]
        out.append(torch.stack(logits, dim=1))
    return torch.cat(out).numpy().astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Costs
# ---------------------------------------------------------------------------------------------
def conv_flops(cin, cout, k, hout, wout):
    return 2 * cin * cout * k * k * hout * wout  # multiply-add = 2 FLOPs


def linear_flops(fin, fout):
    return 2 * fin * fout


def flops_per_stage():
    """Analytical FLOPs of conv and linear layers only (BN, ReLU, pooling, bias not counted).

    Returns (block FLOPs [6], early-head FLOPs [5], final-classifier FLOPs).
    """
    shapes = block_shapes()
    blocks = [conv_flops(shapes[i][0], c, 3, shapes[i + 1][1], shapes[i + 1][2])
              for i, (c, _) in enumerate(BLOCKS)]
    heads = [linear_flops(shapes[i + 1][0] * HEAD_POOL * HEAD_POOL, NUM_CLASSES)
             for i in range(len(BLOCKS) - 1)]
    final = linear_flops(shapes[-1][0], NUM_CLASSES)
    return blocks, heads, final


@torch.no_grad()
def median_ms(module, x):
    """Median wall time in ms of module(x) over LATENCY_RUNS runs after LATENCY_WARMUP runs."""
    for _ in range(LATENCY_WARMUP):
        module(x)
    times = []
    for _ in range(LATENCY_RUNS):
        t0 = time.perf_counter_ns()
        module(x)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e6


def latency_per_stage(net, heads):
    """Batch-1, single-thread CPU latency per backbone block and per head (median, ms)."""
    torch.set_num_threads(1)
    net.eval()
    heads.eval()
    shapes = block_shapes()
    torch.manual_seed(SEED)
    blocks = [median_ms(b, torch.randn(1, *shapes[i])) for i, b in enumerate(net.blocks)]
    early = [median_ms(h, torch.randn(1, *shapes[i + 1])) for i, h in enumerate(heads)]
    final = median_ms(net.classifier, torch.randn(1, *shapes[-1]))
    torch.set_num_threads(TRAIN_THREADS)
    return blocks, early, final


def exit_costs(blocks, early, final):
    """Per exit: backbone = cumulative cost of blocks up to its attachment point; head = itself.

    Exit k < K-1 is attached after block k+1; the final exit after the last block.
    """
    cum = np.cumsum(blocks).tolist()
    rows = [(f"b{k + 1}", cum[k], early[k]) for k in range(len(early))]
    rows.append(("final", cum[-1], final))
    return rows


def fmt(v, digits):
    return f"{v:.{digits}f}"


def exits_yaml(rows, digits, indent):
    pad = " " * indent
    return "".join(
        f"{pad}- {{name: {n}, backbone: {fmt(b, digits)}, head: {fmt(h, digits)}}}\n"
        for n, b, h in rows
    )


def write_profiles(outdir, ms_rows, flops_rows, header):
    """profile.yaml (both targets) and profile-ms.yaml / profile-flops.yaml (one target each)."""
    ms_target, fl_target = "cpu-1thread", "flops"
    text = header + "targets:\n"
    text += f"  {ms_target}:\n    unit: ms\n    exits:\n" + exits_yaml(ms_rows, 4, 6)
    text += f"  {fl_target}:\n    unit: mflops\n    exits:\n" + exits_yaml(flops_rows, 6, 6)
    files = {
        "profile.yaml": text,
        "profile-ms.yaml": header + f"unit: ms\ntarget: {ms_target}\nexits:\n"
        + exits_yaml(ms_rows, 4, 2),
        "profile-flops.yaml": header + f"unit: mflops\ntarget: {fl_target}\nexits:\n"
        + exits_yaml(flops_rows, 6, 2),
    }
    for name, content in files.items():
        with open(os.path.join(outdir, name), "w") as f:
            f.write(content)
        yaml.safe_load(content)  # sanity: must parse


# ---------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "example"),
                    help="output folder (default: data/example next to this script)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    t_start = time.time()
    torch.set_num_threads(TRAIN_THREADS)
    torch.manual_seed(SEED)  # weight init of backbone and heads
    gen = torch.Generator().manual_seed(SEED)  # batch order (backbone epochs, then head epochs)

    splits, norm = load_splits()
    x_tr, y_tr = splits["train"]
    print(f"train {len(x_tr)}, val {len(splits['val'][0])}, test {len(splits['test'][0])}; "
          f"normalisation mean {norm['mean']:.4f} std {norm['std']:.4f}")

    net = Backbone()
    heads = nn.ModuleList(ExitHead(c) for c, _ in BLOCKS[:-1])
    print(f"backbone params {n_params(net)} (final classifier {n_params(net.classifier)}); "
          f"head params {[n_params(h) for h in heads]}")

    t0 = time.time()
    train_backbone(net, x_tr, y_tr, gen)
    t_backbone = time.time() - t0
    t0 = time.time()
    train_heads(net, heads, x_tr, y_tr, gen)
    t_heads = time.time() - t0

    # Dump logits and labels in exitplan's layout.
    accs = {}
    for split in ("val", "test"):
        x, y = splits[split]
        logits = all_exit_logits(net, heads, x)
        labels = y.numpy().astype(np.int64)
        assert logits.dtype == np.float32 and logits.shape == (len(x), len(BLOCKS), NUM_CLASSES)
        np.save(os.path.join(args.out, f"{split}_logits.npy"), logits)
        np.save(os.path.join(args.out, f"{split}_labels.npy"), labels)
        accs[split] = (logits.argmax(axis=2) == labels[:, None]).mean(axis=0)

    # Costs.
    t0 = time.time()
    fl_blocks, fl_heads, fl_final = flops_per_stage()
    ms_blocks, ms_heads, ms_final = latency_per_stage(net, heads)
    t_latency = time.time() - t0
    flops_rows = exit_costs([v / 1e6 for v in fl_blocks], [v / 1e6 for v in fl_heads],
                            fl_final / 1e6)
    ms_rows = exit_costs(ms_blocks, ms_heads, ms_final)
    header = (
        "# exitplan cost profile of data/example (made by data/make_example.py).\n"
        "# backbone: cumulative cost from the input up to the exit's attachment point, heads\n"
        "# excluded; head: that exit's head alone.\n"
        "# ms: batch 1, torch.set_num_threads(1), median of "
        f"{LATENCY_RUNS} runs per backbone block and per head\n"
        f"#     (after {LATENCY_WARMUP} warm-up runs), backbone = sum of block medians; "
        f"torch {torch.__version__}, {platform.machine()}.\n"
        "# mflops: analytical, conv and linear layers only, multiply-add = 2 FLOPs.\n"
    )
    write_profiles(args.out, ms_rows, flops_rows, header)

    total = time.time() - t_start
    names = [r[0] for r in ms_rows]
    print("\n| k | exit | val acc | test acc | backbone MFLOPs | head MFLOPs | backbone ms | head ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for k, name in enumerate(names):
        print(f"| {k} | {name} | {accs['val'][k]:.4f} | {accs['test'][k]:.4f} | "
              f"{flops_rows[k][1]:.6f} | {flops_rows[k][2]:.6f} | "
              f"{ms_rows[k][1]:.4f} | {ms_rows[k][2]:.4f} |")
    print(f"\ntime: backbone {t_backbone:.1f} s, heads {t_heads:.1f} s, "
          f"latency {t_latency:.1f} s, total {total:.1f} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
