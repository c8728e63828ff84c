"""normflows' multi-scale Glow (PyTorch), with the same logit preprocessing as the TF flows.

Layout of normflows' own Glow example, 2 levels of 5 `GlowBlock`s (10 couplings in 2 blocks,
like `tfb.Glow` here): affine couplings with a 3x3 - 1x1 - 3x3 conv network of
`hidden_channels`, LU 1x1 convolutions, ActNorm, squeeze, factor-out between the levels.
"""

import math

import torch

from benchmarks.common import matching_width

IMAGE_SHAPE = (3, 32, 32)  # channels first
LEVELS, STEPS_PER_LEVEL = 2, 5
LOGIT_ALPHA = 0.05


def glow(hidden_channels):
    import normflows as nf  # a benchmark-only extra, needed for this model only

    channels, height, _ = IMAGE_SHAPE
    q0, merges, flows = [], [], []
    for i in range(LEVELS):
        level = [
            nf.flows.GlowBlock(channels * 2 ** (LEVELS + 1 - i), hidden_channels, scale=True)
            for _ in range(STEPS_PER_LEVEL)
        ]
        level.append(nf.flows.Squeeze())
        flows.append(level)
        if i > 0:
            merges.append(nf.flows.Merge())
            latent = (channels * 2 ** (LEVELS - i), height // 2 ** (LEVELS - i)) * 1
            latent = (latent[0], latent[1], latent[1])
        else:
            side = height // 2**LEVELS
            latent = (channels * 2 ** (LEVELS + 1), side, side)
        q0.append(nf.distributions.DiagGaussian(latent))
    return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def num_parameters(model):
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def glow_matching(num_params):
    """The `hidden_channels` whose Glow has the parameter count closest to `num_params`."""
    return matching_width(lambda width: num_parameters(glow(width)), num_params)


def dequantise(pixels):
    return (pixels.float() + torch.rand(pixels.shape)) / 256.0


def log_prob(model, x):
    """log p(x) in pixel space: the flow's log-density of logit(alpha + (1-2alpha) x) + log-det."""
    p = LOGIT_ALPHA + (1 - 2 * LOGIT_ALPHA) * x
    y = torch.log(p) - torch.log1p(-p)
    log_det = (math.log1p(-2 * LOGIT_ALPHA) - torch.log(p) - torch.log1p(-p)).sum(dim=(1, 2, 3))
    return model.log_prob(y, None) + log_det


def sample(model, num):
    y, _ = model.sample(num)
    return (torch.sigmoid(y) - LOGIT_ALPHA) / (1 - 2 * LOGIT_ALPHA)


def phase_calls(model, log_prob_fn, sample_fn, pixels, bfloat16=False):
    """{phase: call}: an Adam (1e-3) training step on -mean log p(dequantised pixels), and
    `log_prob` / sampling in inference mode without gradients, as NumPy results.

    `log_prob_fn(model, x)` and `sample_fn(model, n)` give the model's densities and samples;
    `bfloat16`: under `torch.autocast` bfloat16 (PyTorch's mixed precision on the CPU).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = pixels.shape[0]

    def precision():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16)

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with precision():
            loss = -log_prob_fn(model, dequantise(pixels)).float().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    def log_prob():
        model.eval()
        with torch.no_grad(), precision():
            return log_prob_fn(model, dequantise(pixels)).float().numpy()

    def sample():
        model.eval()
        with torch.no_grad(), precision():
            return sample_fn(model, batch).float().numpy()

    return dict(train=train, log_prob=log_prob, sample=sample)


def conv_flops(model, forward, batch_size):
    """Forward FLOPs per image of every Conv2d (2*H*W*k*k*Cin/groups*Cout) and Linear that
    `forward()` (one log-density evaluation of `batch_size` images) runs."""
    total = [0]

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            cin = module.in_channels // module.groups
            total[0] += 2 * output.numel() * kh * kw * cin
        elif isinstance(module, torch.nn.Linear):
            total[0] += 2 * output.numel() * module.in_features

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    ]
    with torch.no_grad():
        forward()
    for hook in hooks:
        hook.remove()
    # normflows' invertible 1x1 convolutions use F.conv2d with a computed weight, not Conv2d:
    # C*C per pixel, negligible next to the coupling networks (and left out, as in TF's count).
    return total[0] / batch_size
