"""A PyTorch Real NVP of exactly `tfp_realnvp.RealNVPMultiScale`'s default architecture.

The benchmark's fair peer: the same flow written the way a PyTorch user would: eager, images
NCHW, the coupling networks in the channels_last layout that PyTorch recommends on CPUs.
Per scale (data x -> latent z, the paper's f):

    logit(alpha + (1 - 2 alpha) x)
    scale l < L-1: 3 checkerboard couplings (keep parity 1, 0, 1), squeeze (2x2 -> channels),
                   3 channel couplings (keep first half, second, first) with twice the width,
                   factor out the first half of the channels, scale l+1 on the rest, unsqueeze
    scale L-1:     4 checkerboard couplings

Every coupling is y = b*x + (1-b) * (x * exp(s) + t), s = scale * tanh(raw), (t, raw) from a
ResNet of weight-normalised convolutions on b*x (pre-activation blocks with batch norm, 1x1
skip connections, zero-initialised last layer), followed by a batch norm of the transformed
units (batch statistics in training, moving averages otherwise; its log-det counted). Widths
double at each scale. The squeeze uses TF's `space_to_depth` channel order, so the channel
masks split the same units as the TF flow's; parameter counts match (`num_parameters`).
"""

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

BATCH_NORM_MOMENTUM = 0.1  # torch's convention: moving = 0.9 * moving + 0.1 * batch
BATCH_NORM_EPSILON = 1e-4
# The layout of the coupling networks' activations and weights: channels_last is the one
# PyTorch recommends for CPU convolutions (oneDNN's own).
MEMORY_FORMAT = torch.channels_last


def wn_conv(in_channels, out_channels, kernel_size, zero_init=False):
    """conv(x, g * v / ||v||) + bias, the norm over (C_in, k, k) per output channel."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.normal_(conv.weight, std=0.05)
    nn.init.zeros_(conv.bias)
    conv = weight_norm(conv, dim=0)
    fill = 0.0 if zero_init else 1.0
    nn.init.constant_(conv.parametrizations.weight.original0, fill)
    return conv


def batch_norm(channels, affine=True):
    return nn.BatchNorm2d(
        channels, eps=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, affine=affine
    )


class ResidualBlock(nn.Module):
    """x + conv3x3(relu(bn(conv3x3(relu(bn(x))))))."""

    def __init__(self, filters):
        super().__init__()
        self.norm_1, self.conv_1 = batch_norm(filters), wn_conv(filters, filters, 3)
        self.norm_2, self.conv_2 = batch_norm(filters), wn_conv(filters, filters, 3)

    def forward(self, x):
        h = self.conv_1(torch.relu(self.norm_1(x)))
        return x + self.conv_2(torch.relu(self.norm_2(h)))


class Conditioner(nn.Module):
    """The s/t ResNet: masked x [B, C, H, W] -> (shift, raw log-scale), each [B, C, H, W]."""

    def __init__(self, channels, filters, num_blocks, mask_channel=None):
        super().__init__()
        self.input_norm = batch_norm(channels, affine=False)
        if mask_channel is not None:
            self.register_buffer("mask_channel", mask_channel[None, None])
        else:
            self.mask_channel = None
        extra = 1 if mask_channel is not None else 0
        self.input_conv = wn_conv(2 * channels + extra, filters, 3)
        self.input_skip = wn_conv(filters, filters, 1)
        self.blocks = nn.ModuleList(ResidualBlock(filters) for _ in range(num_blocks))
        self.block_skips = nn.ModuleList(wn_conv(filters, filters, 1) for _ in range(num_blocks))
        self.output_norm = batch_norm(filters)
        self.output_conv = wn_conv(filters, 2 * channels, 1, zero_init=True)

    def forward(self, x):
        h = self.input_norm(x.contiguous(memory_format=MEMORY_FORMAT))
        if self.mask_channel is not None:
            mask = self.mask_channel.expand(h.shape[0], 1, *h.shape[2:])
            h = torch.cat([2 * h, -2 * h, mask], dim=1)
        else:
            h = torch.cat([h, -h], dim=1)
        h = self.input_conv(torch.relu(h))
        skip = self.input_skip(h)
        for block, block_skip in zip(self.blocks, self.block_skips, strict=True):
            h = block(h)
            skip = skip + block_skip(h)
        return self.output_conv(torch.relu(self.output_norm(skip))).chunk(2, dim=1)


class Coupling(nn.Module):
    """Masked affine coupling followed by the batch norm of the units it transformed."""

    def __init__(self, keep, filters, num_blocks, checkerboard):
        super().__init__()
        self.register_buffer("keep", keep)
        self.register_buffer("transform", 1 - keep)
        channels = keep.shape[0]
        mask_channel = keep[0] if checkerboard else None
        self.net = Conditioner(channels, filters, num_blocks, mask_channel)
        self.scale = nn.Parameter(torch.ones(()))
        # n_c: transformed units per channel of one event; the normalisation's moving moments.
        self.register_buffer("units", self.transform.sum(dim=(1, 2)))
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_variance", torch.ones(channels))

    def _shift_log_scale(self, kept):
        shift, raw = self.net(kept)
        return shift * self.transform, self.scale * torch.tanh(raw) * self.transform

    def _statistics(self, y):
        if not self.training:
            return self.moving_mean, self.moving_variance
        count = (y.shape[0] * self.units).clamp(min=1)  # kept channels: 0 / 1 = 0
        mean = (y * self.transform).sum(dim=(0, 2, 3)) / count
        centred = (y - mean[:, None, None]) * self.transform
        variance = centred.square().sum(dim=(0, 2, 3)) / count
        with torch.no_grad():
            self.moving_mean.lerp_(mean, BATCH_NORM_MOMENTUM)
            self.moving_variance.lerp_(variance, BATCH_NORM_MOMENTUM)
        return mean, variance

    def f(self, x):
        shift, log_scale = self._shift_log_scale(x * self.keep)
        y = x * torch.exp(log_scale) + shift
        mean, variance = self._statistics(y)
        inv_std = torch.rsqrt(variance + BATCH_NORM_EPSILON)[:, None, None]
        z = y + self.transform * ((y - mean[:, None, None]) * inv_std - y)
        log_det = (
            log_scale.sum(dim=(1, 2, 3))
            - 0.5 * (self.units * torch.log(variance + BATCH_NORM_EPSILON)).sum()
        )
        return z, log_det

    def g(self, z):
        std = torch.sqrt(self.moving_variance + BATCH_NORM_EPSILON)[:, None, None]
        y = z + self.transform * (z * std + self.moving_mean[:, None, None] - z)
        shift, log_scale = self._shift_log_scale(y * self.keep)
        return (y - shift) * torch.exp(-log_scale)


def checkerboard(channels, height, width, parity):
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    board = ((rows + cols) % 2 == parity).float()
    return board.expand(channels, height, width).clone()


def channel_mask(channels, height, width, keep_first_half):
    first = (torch.arange(channels) < channels // 2).float()
    keep = first if keep_first_half else 1 - first
    return keep[:, None, None].expand(channels, height, width).clone()


def squeeze(x):
    """[B, C, H, W] -> [B, 4C, H/2, W/2], channel (2*di + dj)*C + c (TF's space_to_depth)."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(y):
    b, c4, h, w = y.shape
    c = c4 // 4
    y = y.reshape(b, 2, 2, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return y.reshape(b, c, 2 * h, 2 * w)


class Scale(nn.Module):
    """One scale of the multi-scale flow on events [C, H, W]; the next scale nested inside."""

    def __init__(self, shape, index, num_scales, filters, num_blocks):
        super().__init__()
        channels, height, width = shape
        width_l = filters * 2**index
        last = index == num_scales - 1
        self.checkerboard = nn.ModuleList(
            Coupling(checkerboard(channels, height, width, (i + 1) % 2), width_l, num_blocks, True)
            for i in range(4 if last else 3)
        )
        self.channel = nn.ModuleList()
        self.next = None
        if not last:
            squeezed = (4 * channels, height // 2, width // 2)
            self.channel.extend(
                Coupling(channel_mask(*squeezed, i % 2 == 0), 2 * width_l, num_blocks, False)
                for i in range(3)
            )
            half = (2 * channels, height // 2, width // 2)
            self.next = Scale(half, index + 1, num_scales, filters, num_blocks)

    def f(self, x):
        log_det = 0
        for coupling in self.checkerboard:
            x, ld = coupling.f(x)
            log_det = log_det + ld
        if self.next is None:
            return x, log_det
        x = squeeze(x)
        for coupling in self.channel:
            x, ld = coupling.f(x)
            log_det = log_det + ld
        factored, going_on = x.chunk(2, dim=1)
        latent, ld = self.next.f(going_on)
        return unsqueeze(torch.cat([factored, latent], dim=1)), log_det + ld

    def g(self, z):
        if self.next is not None:
            factored, latent = squeeze(z).chunk(2, dim=1)
            x = torch.cat([factored, self.next.g(latent)], dim=1)
            for coupling in reversed(self.channel):
                x = coupling.g(x)
            z = unsqueeze(x)
        for coupling in reversed(self.checkerboard):
            z = coupling.g(z)
        return z


class RealNVP(nn.Module):
    """Multi-scale Real NVP on images [B, C, H, W] in [0, 1], with the logit preprocessing."""

    def __init__(
        self, shape=(3, 32, 32), num_scales=2, num_filters=64, num_res_blocks=8, logit_alpha=0.05
    ):
        super().__init__()
        self.shape = tuple(shape)
        self.alpha = logit_alpha
        self.flow = Scale(self.shape, 0, num_scales, num_filters, num_res_blocks)
        self.to(memory_format=MEMORY_FORMAT)  # the convolutions' weights

    def log_prob(self, x):
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        logit_log_det = (math.log1p(-2 * self.alpha) - torch.log(p) - torch.log1p(-p)).sum(
            dim=(1, 2, 3)
        )
        z, log_det = self.flow.f(y)
        base = -0.5 * (z.square() + math.log(2 * math.pi)).sum(dim=(1, 2, 3))
        return base + log_det + logit_log_det

    def sample(self, num):
        y = self.flow.g(torch.randn(num, *self.shape))
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)
