#!/usr/bin/python3
"""make_golden.py: writes the golden fixtures that tests/test_golden.c compares our layers to.

Reference: PyTorch (Debian's python3-torch, 1.13) run in float64 on inputs and parameters that
are float32 values, so the stored references carry only float32 rounding of an exact-ish
result. Each case stores its configuration, inputs, parameters, output, a fixed random upstream
gradient dy, and the gradients of loss = sum(y * dy) with respect to the input and every
parameter. Deterministic: a fixed torch.manual_seed, CPU only; rerunning gives identical bytes.

Run from anywhere (Debian's interpreter, not the pyenv one on PATH):
    /usr/bin/python3 tests/golden/make_golden.py [OUTPUT_DIR]
OUTPUT_DIR defaults to this script's folder. The file format is described in README.md here.
"""
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MAGIC = b"LABGOLD\0"
VERSION = 1
SEED = 20161202


class Fixture:
    """An ordered list of named float32 tensors, written in the LABGOLD v1 format."""

    def __init__(self):
        self.items = []
        self.names = set()

    def add(self, name, t):
        t = torch.as_tensor(t).detach()
        assert name not in self.names, f"duplicate tensor name {name}"
        assert 1 <= t.dim() <= 8, f"{name}: ndim {t.dim()}"
        f32 = t.to(torch.float32).contiguous()
        assert torch.isfinite(f32).all(), f"{name}: non-finite values"
        self.names.add(name)
        self.items.append((name, f32))

    def write(self, path):
        out = bytearray()
        out += MAGIC
        out += struct.pack("<II", VERSION, len(self.items))
        for name, t in self.items:
            b = name.encode("ascii")
            out += struct.pack("<I", len(b)) + b
            out += struct.pack("<I", t.dim())
            out += struct.pack("<%dI" % t.dim(), *t.shape)
            out += struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        with open(path, "wb") as f:
            f.write(out)
        return len(out)


def f32(t):
    """Rounds to float32 and returns float64, so the reference sees exactly the stored value."""
    return t.to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale)


def uniform(*shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo)


def leaf(t):
    return t.clone().requires_grad_(True)


# === convolution ===
# cfg: [oc, kh, kw, sh, sw, pt, pb, pl, pr, bias]
def conv_case(fx, name, n, ic, h, w, oc, kh, kw, sh, sw, pt, pb, pl, pr, bias):
    x = leaf(uniform(n, ic, h, w))
    fan_in = ic * kh * kw
    wt = leaf(randn(oc, ic, kh, kw, scale=(2.0 / fan_in) ** 0.5))
    b = leaf(uniform(oc, lo=-0.5, hi=0.5)) if bias else None
    # F.pad takes (left, right, top, bottom); PyTorch's conv padding is symmetric only.
    y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), wt, b, stride=(sh, sw))
    dy = uniform(*y.shape)
    (y * dy).sum().backward()
    fx.add(f"{name}/cfg", torch.tensor([oc, kh, kw, sh, sw, pt, pb, pl, pr, int(bias)]))
    fx.add(f"{name}/x", x)
    fx.add(f"{name}/weight", wt)
    if bias:
        fx.add(f"{name}/bias", b)
    fx.add(f"{name}/y", y)
    fx.add(f"{name}/dy", dy)
    fx.add(f"{name}/dx", x.grad)
    fx.add(f"{name}/dweight", wt.grad)
    if bias:
        fx.add(f"{name}/dbias", b.grad)


def make_conv():
    fx = Fixture()
    #             name            n ic  h  w oc kh kw sh sw pt pb pl pr bias
    conv_case(fx, "conv_1x1",     2, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0, True)
    conv_case(fx, "conv_1x1_s2",  2, 3, 7, 7, 4, 1, 1, 2, 2, 0, 0, 0, 0, False)
    conv_case(fx, "conv_1x7",     2, 3, 6, 9, 4, 1, 7, 1, 1, 0, 0, 3, 3, True)
    conv_case(fx, "conv_7x1",     2, 3, 9, 6, 4, 7, 1, 1, 1, 3, 3, 0, 0, False)
    conv_case(fx, "conv_3x3_p1",  2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, True)
    conv_case(fx, "conv_3x3_s2",  2, 3, 9, 9, 4, 3, 3, 2, 2, 0, 0, 0, 0, True)
    conv_case(fx, "conv_3x3_s2_nobias", 2, 4, 9, 8, 3, 3, 3, 2, 2, 0, 0, 0, 0, False)
    # TensorFlow SAME for a stride-2 3x3 on an even input pads only bottom/right.
    conv_case(fx, "conv_3x3_s2_same", 2, 3, 8, 8, 4, 3, 3, 2, 2, 0, 1, 0, 1, True)
    # Every side different, unequal strides, non-square kernel.
    conv_case(fx, "conv_asym",    2, 3, 7, 8, 4, 3, 2, 1, 2, 1, 2, 0, 1, False)
    conv_case(fx, "conv_5x5_p2",  1, 2, 6, 5, 3, 5, 5, 1, 1, 2, 2, 2, 2, True)
    # conv2d.c's other code paths: 1x1 stride 1 on one sample or on a map of >= 1024 pixels
    # multiplies x in place (no im2col); a map of more than 4096 pixels is cut into slices.
    conv_case(fx, "conv_1x1_n1",  1, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0, True)
    conv_case(fx, "conv_1x1_large", 2, 2, 32, 33, 2, 1, 1, 1, 1, 0, 0, 0, 0, True)
    conv_case(fx, "conv_3x3_sliced", 1, 1, 66, 66, 2, 3, 3, 1, 1, 1, 1, 1, 1, True)
    return fx


# === batch norm ===
# cfg: [eps, momentum]; buffers: running_mean then running_var (PyTorch's order).
def bn_case(fx, name, train, n, c, h, w):
    eps, momentum = 1e-3, 0.1
    shift = uniform(1, c, 1, 1, lo=-2.0, hi=2.0)
    scale = uniform(1, c, 1, 1, lo=0.5, hi=3.0)
    x = leaf(f32(torch.randn(n, c, h, w, dtype=torch.float64) * scale + shift))
    gamma = leaf(uniform(c, lo=0.5, hi=1.5))
    beta = leaf(uniform(c, lo=-0.5, hi=0.5))
    rmean = uniform(c, lo=-1.0, hi=1.0)
    rvar = uniform(c, lo=0.5, hi=2.0)
    rmean_new, rvar_new = rmean.clone(), rvar.clone()
    y = F.batch_norm(x, rmean_new, rvar_new, gamma, beta, training=train, momentum=momentum, eps=eps)
    dy = uniform(*y.shape)
    (y * dy).sum().backward()
    fx.add(f"{name}/cfg", torch.tensor([eps, momentum]))
    fx.add(f"{name}/x", x)
    fx.add(f"{name}/weight", gamma)
    fx.add(f"{name}/bias", beta)
    fx.add(f"{name}/running_mean", rmean)
    fx.add(f"{name}/running_var", rvar)
    fx.add(f"{name}/y", y)
    fx.add(f"{name}/running_mean_out", rmean_new)
    fx.add(f"{name}/running_var_out", rvar_new)
    fx.add(f"{name}/dy", dy)
    fx.add(f"{name}/dx", x.grad)
    fx.add(f"{name}/dweight", gamma.grad)
    fx.add(f"{name}/dbias", beta.grad)


def make_batchnorm():
    fx = Fixture()
    bn_case(fx, "bn_train", True, 3, 4, 5, 6)
    bn_case(fx, "bn_eval", False, 3, 4, 5, 6)
    return fx


# === pooling ===
# pool cfg: [kind (0 max, 1 avg), kh, kw, sh, sw, pt, pb, pl, pr, ceil_mode, count_include_pad]
def pool_case(fx, name, kind, n, c, h, w, k, s, p, ceil_mode=False, count_include_pad=True):
    x = leaf(uniform(n, c, h, w))
    if kind == 0:
        y = F.max_pool2d(x, k, s, p, ceil_mode=ceil_mode)
    else:
        y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    dy = uniform(*y.shape)
    (y * dy).sum().backward()
    fx.add(f"{name}/cfg", torch.tensor([kind, k, k, s, s, p, p, p, p, int(ceil_mode), int(count_include_pad)]))
    fx.add(f"{name}/x", x)
    fx.add(f"{name}/y", y)
    fx.add(f"{name}/dy", dy)
    fx.add(f"{name}/dx", x.grad)


# adaptive cfg: [oh, ow]
def apool_case(fx, name, n, c, h, w, oh, ow):
    x = leaf(uniform(n, c, h, w))
    y = F.adaptive_avg_pool2d(x, (oh, ow))
    dy = uniform(*y.shape)
    (y * dy).sum().backward()
    fx.add(f"{name}/cfg", torch.tensor([oh, ow]))
    fx.add(f"{name}/x", x)
    fx.add(f"{name}/y", y)
    fx.add(f"{name}/dy", dy)
    fx.add(f"{name}/dx", x.grad)


def make_pool():
    fx = Fixture()
    #                                  kind n  c  h  w  k  s  p
    pool_case(fx, "avg_3x3_s1_p1_incl",   1, 2, 3, 7, 6, 3, 1, 1, count_include_pad=True)
    # TensorFlow's SAME average pool divides by the real pixels only.
    pool_case(fx, "avg_3x3_s1_p1_excl",   1, 2, 3, 7, 6, 3, 1, 1, count_include_pad=False)
    # The aux head's 5x5/3 pool on a 17x17 grid.
    pool_case(fx, "avg_5x5_s3",           1, 2, 2, 17, 17, 5, 3, 0)
    # ceil_mode: the last window hangs over the bottom/right padding; PyTorch's divisor counts
    # the padding (with count_include_pad) but not the cells beyond it.
    pool_case(fx, "avg_3x3_s2_p1_ceil_incl", 1, 2, 2, 8, 8, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    pool_case(fx, "avg_3x3_s2_p1_ceil_excl", 1, 2, 2, 8, 8, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    pool_case(fx, "max_3x3_s2",           0, 2, 3, 9, 9, 3, 2, 0)
    pool_case(fx, "max_3x3_s2_ceil",      0, 2, 3, 8, 8, 3, 2, 0, ceil_mode=True)
    pool_case(fx, "max_3x3_s1_p1",        0, 2, 3, 6, 7, 3, 1, 1)
    apool_case(fx, "adaptive_17_to_5", 2, 2, 17, 17, 5, 5)
    apool_case(fx, "adaptive_10x7_to_4x3", 2, 2, 10, 7, 4, 3)
    apool_case(fx, "adaptive_global", 2, 3, 7, 7, 1, 1)
    return fx


# === linear ===
# cfg: [out, bias]; x is (N, C, H, W) and the layer flattens C*H*W.
def linear_case(fx, name, n, c, h, w, out, bias):
    x = leaf(uniform(n, c, h, w))
    k = c * h * w
    wt = leaf(uniform(out, k, lo=-(k ** -0.5), hi=k ** -0.5))
    b = leaf(uniform(out, lo=-0.5, hi=0.5)) if bias else None
    y = F.linear(x.reshape(n, k), wt, b)
    dy = uniform(*y.shape)
    (y * dy).sum().backward()
    fx.add(f"{name}/cfg", torch.tensor([out, int(bias)]))
    fx.add(f"{name}/x", x)
    fx.add(f"{name}/weight", wt)
    if bias:
        fx.add(f"{name}/bias", b)
    fx.add(f"{name}/y", y.reshape(n, out, 1, 1))
    fx.add(f"{name}/dy", dy.reshape(n, out, 1, 1))
    fx.add(f"{name}/dx", x.grad)
    fx.add(f"{name}/dweight", wt.grad)
    if bias:
        fx.add(f"{name}/dbias", b.grad)


def make_linear():
    fx = Fixture()
    linear_case(fx, "linear_bias", 3, 4, 2, 2, 5, True)
    linear_case(fx, "linear_nobias", 2, 7, 1, 1, 3, False)
    return fx


# === softmax cross-entropy with label smoothing ===
# cfg: [smoothing]; labels stored as floats (exact small integers); loss is the batch mean
# (PyTorch's reduction='mean'); dlogits is d(loss)/d(logits), i.e. already divided by N.
def xent_case(fx, name, n, k, smoothing, scale):
    logits = leaf(randn(n, k, scale=scale))
    labels = torch.randint(0, k, (n,))
    loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    loss.backward()
    fx.add(f"{name}/cfg", torch.tensor([smoothing]))
    fx.add(f"{name}/logits", logits)
    fx.add(f"{name}/labels", labels.to(torch.float64))
    fx.add(f"{name}/loss", loss.reshape(1))
    fx.add(f"{name}/dlogits", logits.grad)


def make_loss():
    fx = Fixture()
    xent_case(fx, "xent_ls0.1", 5, 7, 0.1, 2.0)
    xent_case(fx, "xent_ls0", 4, 6, 0.0, 2.0)
    # Large logits: the loss must use a stable log-sum-exp.
    xent_case(fx, "xent_ls0.1_large", 3, 10, 0.1, 40.0)
    return fx


# === a small Inception-style block, built in C through lab/graph.h ===
# Node list (name, kind, inputs): the C test builds the same graph from the same table (see
# test_golden.c); every conv has no bias and is followed by BN(eps 1e-3, momentum 0.1) + ReLU.
BLOCK_IN = (2, 8, 9, 9)
BLOCK_EPS, BLOCK_MOMENTUM = 1e-3, 0.1


class BasicConv(nn.Module):
    def __init__(self, ic, oc, k, p):
        super().__init__()
        self.conv = nn.Conv2d(ic, oc, k, padding=p, bias=False)
        self.bn = nn.BatchNorm2d(oc, eps=BLOCK_EPS, momentum=BLOCK_MOMENTUM)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        c = BLOCK_IN[1]
        self.b1 = BasicConv(c, 4, 1, 0)
        self.b2a = BasicConv(c, 3, 1, 0)
        self.b2b = BasicConv(3, 4, 3, 1)
        self.b3a = BasicConv(c, 3, 1, 0)
        self.b3b = BasicConv(3, 4, 3, 1)
        self.b3c = BasicConv(4, 4, 3, 1)
        self.b4 = BasicConv(c, 2, 1, 0)


def make_block():
    fx = Fixture()
    m = Block().double()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
                mod.weight.copy_(randn(*mod.weight.shape, scale=(2.0 / fan_in) ** 0.5))
            elif isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(uniform(mod.num_features, lo=0.5, hi=1.5))
                mod.bias.copy_(uniform(mod.num_features, lo=-0.5, hi=0.5))
    m.train()
    x = leaf(uniform(*BLOCK_IN))  # requires grad so every intermediate can retain its own
    acts = []  # (node name, tensor) in graph node order

    def node(name, t):
        t.retain_grad()
        acts.append((name, t))
        return t

    def basic(prefix, mod, t):
        t = node(prefix + "_conv", mod.conv(t))
        t = node(prefix + "_bn", mod.bn(t))
        return node(prefix + "_relu", F.relu(t))

    b1 = basic("b1", m.b1, x)
    b2 = basic("b2b", m.b2b, basic("b2a", m.b2a, x))
    b3 = basic("b3c", m.b3c, basic("b3b", m.b3b, basic("b3a", m.b3a, x)))
    pool = node("b4_pool", F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
    b4 = basic("b4", m.b4, pool)
    y = node("concat", torch.cat([b1, b2, b3, b4], dim=1))
    dy = uniform(*y.shape)
    (y * dy).sum().backward()

    fx.add("block/x", x)
    fx.add("block/dy", dy)
    # Parameters in graph order: node order, conv weight, BN weight then bias.
    for i, (pname, p) in enumerate(m.named_parameters()):
        fx.add(f"block/param/{i:02d}/{pname}", p)
        fx.add(f"block/grad/{i:02d}/{pname}", p.grad)
    for name, t in acts:
        fx.add(f"block/act/{name}", t)
        fx.add(f"block/dact/{name}", t.grad)
    for name, mod in m.named_modules():
        if isinstance(mod, nn.BatchNorm2d):
            node_name = name.split(".")[0] + "_bn"
            fx.add(f"block/running_mean_out/{node_name}", mod.running_mean)
            fx.add(f"block/running_var_out/{node_name}", mod.running_var)
    return fx


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    total = 0
    for fname, make in [("conv2d.bin", make_conv), ("batchnorm.bin", make_batchnorm),
                        ("pool.bin", make_pool), ("linear.bin", make_linear),
                        ("loss.bin", make_loss), ("block.bin", make_block)]:
        fx = make()
        size = fx.write(os.path.join(out_dir, fname))
        total += size
        print(f"{fname}: {len(fx.items)} tensors, {size} bytes")
    print(f"total {total} bytes (torch {torch.__version__})")


if __name__ == "__main__":
    main()
