#!/usr/bin/python3
"""make_golden_train.py: writes tests/golden/train_steps.txt, the reference for the step loop of
tests/test_train.c (lab_train_step: forward, label-smoothed loss + aux, backward, clip by global
norm, SGD / RMSProp-TF, BN running statistics).

Run with Debian's python3-torch (torch 1.13):  /usr/bin/python3 tests/golden/make_golden_train.py

The network (built node by node with lab_graph_add in the test, in this order):
  x (N, 2, 8, 8) -> conv1 3x3 p1 (4, no bias) -> bn1 (eps 1e-3, momentum 0.1) -> relu -> maxpool 2/2
     -> conv2 3x3 p1 (6, bias) -> relu -> global avgpool -> fc (5)              = "logits"
     [maxpool -> avgpool 2/2 -> aux_fc (5)                                      = "aux_logits"]
Loss = CrossEntropy(logits, label_smoothing=eps) + aux_weight * CrossEntropy(aux_logits, ...),
then clip by global norm as tf.clip_by_global_norm (no epsilon; norm summed in double), then
torch.optim.SGD (weight decay on conv/linear weights only) or TensorFlow's RMSProp written out
as in make_golden_optim.py (ms starts at rms_init, eps inside the sqrt).

Format: whitespace-separated tokens, floats as C99 hex literals (exact float32 values).
  LABGOLD train 1
  ncases N
  case NAME AUX OPT momentum nesterov wd rms_decay rms_eps rms_init eps aux_weight clip nsteps batch
  lr v...                                   (nsteps)
  x S v...   y S i...                       (per step S)
  nparams P
  param NAME COUNT v...                     (initial values, P lines, the graph's list order)
  loss v...   norm v...                     (per step: total loss, pre-clip gradient norm)
  final NAME COUNT v...                     (P lines)
  buffers COUNT v...                        (bn1 running mean, running var)
"""
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "train_steps.txt")
N, K = 4, 5


def f32(x):
    return torch.tensor(x, dtype=torch.float32).item()


def hexs(t):
    return " ".join(float(v).hex() for v in t.reshape(-1).tolist())


def make_params(g, aux):
    def r(*shape, s=0.3):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * s

    p = [("conv1.weight", r(4, 2, 3, 3), 1),
         ("bn1.weight", 1.0 + r(4, s=0.1), 0),
         ("bn1.bias", r(4, s=0.1), 0),
         ("conv2.weight", r(6, 4, 3, 3, s=0.2), 1),
         ("conv2.bias", r(6, s=0.1), 0),
         ("fc.weight", r(K, 6, s=0.4), 1),
         ("fc.bias", r(K, s=0.1), 0)]
    if aux:
        p += [("aux_fc.weight", r(K, 16, s=0.3), 1), ("aux_fc.bias", r(K, s=0.1), 0)]
    return p


def forward(ps, x, buf, aux):
    v = {n: t for n, t, _ in ps}
    h = F.conv2d(x, v["conv1.weight"], None, padding=1)
    h = F.batch_norm(h, buf[0], buf[1], v["bn1.weight"], v["bn1.bias"], training=True, momentum=0.1, eps=1e-3)
    h = F.max_pool2d(F.relu(h), 2, 2)
    m = F.relu(F.conv2d(h, v["conv2.weight"], v["conv2.bias"], padding=1))
    logits = F.linear(F.adaptive_avg_pool2d(m, 1).flatten(1), v["fc.weight"], v["fc.bias"])
    a = None
    if aux:
        a = F.linear(F.avg_pool2d(h, 2, 2).flatten(1), v["aux_fc.weight"], v["aux_fc.bias"])
    return logits, a


def run_case(f, name, aux, opt, momentum, nesterov, wd, rho, rms_eps, rms_init, eps, aux_w, clip, lrs, seed):
    g = torch.Generator().manual_seed(seed)
    init = make_params(g, aux)
    xs = [torch.randn(N, 2, 8, 8, generator=g, dtype=torch.float32) for _ in lrs]
    ys = [torch.randint(0, K, (N,), generator=g) for _ in lrs]
    ps = [(n, torch.nn.Parameter(t.clone()), d) for n, t, d in init]
    buf = [torch.zeros(4), torch.ones(4)]
    if opt == 0:
        decay = [p for _, p, d in ps if d]
        nodecay = [p for _, p, d in ps if not d]
        sgd = torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": nodecay, "weight_decay": 0.0}],
                              lr=lrs[0], momentum=momentum, nesterov=bool(nesterov))
    else:
        ms = [torch.full_like(p, rms_init) for _, p, _ in ps]
        mom = [torch.zeros_like(p) for _, p, _ in ps]
        one_minus_rho = (torch.tensor(1.0) - torch.tensor(rho, dtype=torch.float32)).item()
    losses, norms = [], []
    for k, lr in enumerate(lrs):
        for _, p, _ in ps:
            p.grad = None
        logits, a = forward(ps, xs[k], buf, aux)
        loss = F.cross_entropy(logits, ys[k], label_smoothing=eps)
        if aux:
            loss = loss + aux_w * F.cross_entropy(a, ys[k], label_smoothing=eps)
        loss.backward()
        losses.append(loss.item())
        norm = sum(float((p.grad.double() ** 2).sum()) for _, p, _ in ps) ** 0.5
        norms.append(norm)
        if clip > 0 and norm > clip:
            coef = f32(clip / norm)
            for _, p, _ in ps:
                p.grad.mul_(coef)
        with torch.no_grad():
            if opt == 0:
                for grp in sgd.param_groups:
                    grp["lr"] = lr
                sgd.step()
            else:
                for i, (_, p, d) in enumerate(ps):
                    gr = p.grad + f32(wd) * p if d else p.grad
                    ms[i] = ms[i] + one_minus_rho * (gr * gr - ms[i])
                    step = f32(lr) * gr / torch.sqrt(ms[i] + f32(rms_eps))
                    if momentum > 0:
                        mom[i] = f32(momentum) * mom[i] + step
                        step = mom[i]
                    p.sub_(step)
    f.write(f"case {name} {aux} {opt} {momentum!r} {nesterov} {wd!r} {rho!r} {rms_eps!r} {rms_init!r} {eps!r} "
            f"{aux_w!r} {clip!r} {len(lrs)} {N}\n")
    f.write("lr " + " ".join(float(f32(v)).hex() for v in lrs) + "\n")
    for k in range(len(lrs)):
        f.write(f"x {k} {hexs(xs[k])}\n")
        f.write(f"y {k} " + " ".join(str(int(v)) for v in ys[k]) + "\n")
    f.write(f"nparams {len(ps)}\n")
    for n, t, _ in init:
        f.write(f"param {n} {t.numel()} {hexs(t)}\n")
    f.write("loss " + " ".join(float(v).hex() for v in losses) + "\n")
    f.write("norm " + " ".join(float(v).hex() for v in norms) + "\n")
    for n, p, _ in ps:
        f.write(f"final {n} {p.numel()} {hexs(p.detach())}\n")
    f.write(f"buffers 8 {hexs(torch.cat(buf))}\n")


def main():
    torch.set_num_threads(1)
    lrs = [0.1, 0.1, 0.05, 0.02]
    cases = [
        # name, aux, opt, momentum, nesterov, wd, rho, rms_eps, rms_init, eps, aux_w, clip, seed
        ("sgd_aux_smooth_clip", 1, 0, 0.9, 0, 1e-3, 0.9, 1.0, 1.0, 0.1, 0.4, 0.5, 11),
        ("rmsprop_tf_aux", 1, 1, 0.9, 0, 4e-5, 0.9, 1.0, 1.0, 0.1, 0.4, 2.0, 12),
        ("rmsprop_tf_noaux_eps", 0, 1, 0.9, 0, 1e-3, 0.9, 0.1, 1.0, 0.2, 0.0, 0.0, 13),
        ("sgd_nesterov_nosmooth", 0, 0, 0.9, 1, 0.0, 0.9, 1.0, 1.0, 0.0, 0.0, 0.0, 14),
    ]
    with open(OUT, "w") as f:
        f.write("LABGOLD train 1\n")
        f.write(f"ncases {len(cases)}\n")
        for c in cases:
            name, aux, opt, mom, nest, wd, rho, reps, rinit, eps, aw, clip, seed = c
            run_case(f, name, aux, opt, mom, nest, wd, rho, reps, rinit, eps, aw, clip, lrs, seed)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
