#!/usr/bin/python3
"""make_golden_cost.py: per-layer cost fixtures for tests/test_cost.c, counted by PyTorch
forward hooks on reference networks written with torch.nn (torchvision is not installed, so
the networks are transcribed here from torchvision's inception.py / googlenet.py as the facts
card sections 2 and 4 describe them, and from the seed's Lucid code).

Every Conv2d, BatchNorm2d and Linear module that runs in a training-mode forward pass (aux
heads included) writes one line, in execution order:

    kind params macs c h w

kind: conv | bn | linear; params = its trainable tensors' element count (BN: gamma, beta);
macs = per-image multiply-accumulates (conv: OH*OW*OC*KH*KW*IC/groups; linear: in*out;
bn: 0); c h w = the output shape of one image (linear: out 1 1). A trailing line
`total params macs` sums them. Header: `# cost fixture v1 <network> <input size>`.

Run with Debian's python3-torch:  /usr/bin/python3 tests/golden/make_golden_cost.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


# === torchvision building blocks ===

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, eps=0.001, bias=False, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=bias, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


# --- torchvision inception_v3 (facts card 2.2, 2.3) ---

class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = m(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


class InceptionAux(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, classes)

    def forward(self, x):
        x = F.avg_pool2d(x, kernel_size=5, stride=3)
        x = self.conv1(self.conv0(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(torch.flatten(x, 1))


class InceptionV3(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.AuxLogits = InceptionAux(768, classes)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e):
            x = m(x)
        aux = self.AuxLogits(x)
        for m in (self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = m(x)
        x = F.dropout(F.adaptive_avg_pool2d(x, (1, 1)), 0.5, self.training)
        return self.fc(torch.flatten(x, 1)), aux


# --- torchvision googlenet (facts card 4.3): BN, 3x3 in the "5x5" branch, aux heads ---

class GInception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(cin, pp, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GAux(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.dropout(F.relu(self.fc1(torch.flatten(x, 1))), 0.7, self.training)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = GInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = GInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = GInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = GInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = GInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = GInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = GInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = GInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = GInception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = GAux(512, classes)
        self.aux2 = GAux(528, classes)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        a1 = self.aux1(x)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        a2 = self.aux2(x)
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = F.dropout(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1), 0.2, self.training)
        return self.fc(x), a1, a2


# --- the seed's Lucid Inception_V3 (ConvBNReLU2d: conv with bias unless conv_bias=False, BN eps 1e-5) ---

def CBR(cin, cout, conv_bias=True, **kw):
    return BasicConv2d(cin, cout, eps=1e-5, bias=conv_bias, **kw)


class V2A(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch1 = nn.Sequential(CBR(cin, 64, kernel_size=1), CBR(64, 96, kernel_size=3, padding=1),
                                     CBR(96, 96, kernel_size=3, padding=1))
        self.branch2 = nn.Sequential(CBR(cin, 48, kernel_size=1), CBR(48, 64, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), CBR(cin, 64, kernel_size=1))
        self.branch4 = CBR(cin, 64, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class RedA(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch1 = nn.Sequential(CBR(cin, 64, kernel_size=1), CBR(64, 96, kernel_size=3, padding=1),
                                     CBR(96, 96, kernel_size=3, stride=2))
        self.branch2 = CBR(cin, 384, kernel_size=3, stride=2)
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class V2B(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.branch1 = nn.Sequential(
            CBR(cin, c, kernel_size=1), CBR(c, c, kernel_size=(1, 7), padding=(0, 3)),
            CBR(c, c, kernel_size=(7, 1), padding=(3, 0)), CBR(c, c, kernel_size=(1, 7), padding=(0, 3)),
            CBR(c, 192, kernel_size=(7, 1), padding=(3, 0)))
        self.branch2 = nn.Sequential(CBR(cin, c, kernel_size=1), CBR(c, c, kernel_size=(1, 7), padding=(0, 3)),
                                     CBR(c, 192, kernel_size=(7, 1), padding=(3, 0)))
        self.branch3 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), CBR(cin, 192, kernel_size=1))
        self.branch4 = CBR(cin, 192, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class RedB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch1 = nn.Sequential(CBR(cin, 192, kernel_size=1), CBR(192, 192, kernel_size=(1, 7), padding=(0, 3)),
                                     CBR(192, 192, kernel_size=(7, 1), padding=(3, 0)),
                                     CBR(192, 192, kernel_size=3, stride=2))
        self.branch2 = nn.Sequential(CBR(cin, 192, kernel_size=1), CBR(192, 320, kernel_size=3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class V2C(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch1_stem = nn.Sequential(CBR(cin, 448, kernel_size=1), CBR(448, 384, kernel_size=3, padding=1))
        self.branch1_left = CBR(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch1_right = CBR(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch2_stem = CBR(cin, 384, kernel_size=1)
        self.branch2_left = CBR(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch2_right = CBR(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), CBR(cin, 192, kernel_size=1))
        self.branch4 = CBR(cin, 320, kernel_size=1)

    def forward(self, x):
        s1 = self.branch1_stem(x)
        s2 = self.branch2_stem(x)
        b1 = torch.cat([self.branch1_left(s1), self.branch1_right(s1)], 1)
        b2 = torch.cat([self.branch2_left(s2), self.branch2_right(s2)], 1)
        return torch.cat([b1, b2, self.branch3(x), self.branch4(x)], 1)


class LucidAux(nn.Module):
    def __init__(self, cin, classes, pool=(5, 5)):
        super().__init__()
        self.pool = pool
        self.conv = CBR(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * pool[0] * pool[1], 1024)
        self.fc2 = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, self.pool))
        x = F.dropout(F.relu(self.fc1(torch.flatten(x, 1))), 0.7, self.training)
        return self.fc2(x)


class LucidV3(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Sequential(CBR(3, 32, False, kernel_size=3, stride=2), CBR(32, 32, False, kernel_size=3),
                                   CBR(32, 64, False, kernel_size=3, padding=1))
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv2 = nn.Sequential(CBR(64, 80, False, kernel_size=1), CBR(80, 192, False, kernel_size=3, stride=2),
                                   CBR(192, 288, False, kernel_size=3, padding=1))
        self.incep_3 = nn.Sequential(V2A(288), V2A(288), V2A(288))
        self.incep_red1 = RedA(288)
        self.incep_4 = nn.Sequential(V2B(768, 128), V2B(768, 160), V2B(768, 160), V2B(768, 160), V2B(768, 192))
        self.incep_red2 = RedB(768)
        self.aux = LucidAux(768, classes)
        self.incep_5 = nn.Sequential(V2C(1280), V2C(2048))
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        x = self.conv2(self.maxpool(self.conv1(x)))
        x = self.incep_4(self.incep_red1(self.incep_3(x)))
        aux = self.aux(x)
        x = self.incep_5(self.incep_red2(x))
        x = F.dropout(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1), 0.5, self.training)
        return self.fc(x), aux


# === counting ===

def count(model, size):
    rows = []

    def hook(m, inp, out):
        n = out.shape[0]
        params = sum(p.numel() for p in m.parameters(recurse=False))
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            macs = out.numel() // n * kh * kw * m.in_channels // m.groups
            rows.append(("conv", params, macs, out.shape[1], out.shape[2], out.shape[3]))
        elif isinstance(m, nn.BatchNorm2d):
            rows.append(("bn", params, 0, out.shape[1], out.shape[2], out.shape[3]))
        elif isinstance(m, nn.Linear):
            rows.append(("linear", params, m.in_features * m.out_features, out.shape[1], 1, 1))

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            m.register_forward_hook(hook)
    model.train()  # aux heads run; BN in training mode needs a batch of 2 for 1x1 maps
    with torch.no_grad():
        model(torch.zeros(2, 3, size, size))
    # Every parameter of the model must have been seen by exactly one hook.
    assert sum(r[1] for r in rows) == sum(p.numel() for p in model.parameters()), "unhooked parameters"
    return rows


def write(name, model, size):
    rows = count(model, size)
    path = os.path.join(HERE, "cost_%s.txt" % name)
    with open(path, "w") as f:
        f.write("# cost fixture v1 %s %d\n" % (name, size))
        for r in rows:
            f.write("%s %d %d %d %d %d\n" % r)
        f.write("total %d %d\n" % (sum(r[1] for r in rows), sum(r[2] for r in rows)))
    print("%s: %d layers, %d params, %d MACs (aux included)" % (path, len(rows), sum(r[1] for r in rows),
                                                                  sum(r[2] for r in rows)))


def main():
    torch.manual_seed(0)
    write("inception_v3", InceptionV3(), 299)
    write("googlenet_torchvision", GoogLeNet(), 224)
    write("lucid_inception_v3", LucidV3(), 299)
    return 0


if __name__ == "__main__":
    sys.exit(main())
