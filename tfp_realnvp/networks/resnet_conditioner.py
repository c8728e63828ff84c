"""The Real NVP shift / log-scale network: a weight-normalised ResNet with skip connections."""

import keras
import numpy as np
from keras import ops

from tfp_realnvp.networks.context_projection import (
    ContextProjection,
    conditional_event_shape,
    describe_value,
)
from tfp_realnvp.networks.recomputation import recompute_in_backward
from tfp_realnvp.networks.residual_block import ResidualBlock, batch_norm_layer
from tfp_realnvp.networks.weight_norm_conv2d import WeightNormConv2D


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class ResNetConditioner(keras.layers.Layer):
    """The paper's s/t network: masked input [B, H, W, C] -> [B, H, W, 2C] = (shift, raw log-scale).

    The output width is `output_channels` when given (other couplings need other widths: C for
    an additive coupling, (3K - 1) C for a spline coupling with K bins).

    As in the authors' code:

        h    = BN(x)                            (normalise the masked input; no learned affine)
        h    = relu(concat([2h, -2h, mask]))    (checkerboard variant: x2 for the zeroed half,
               relu(concat([h, -h])) otherwise    the mask as an input channel)
        h    = conv3x3(h) [+ P(c)];   skip = conv1x1(h)
        for each of N residual blocks:
             h = block(h);            skip += conv1x1(h)
        out  = conv1x1(relu(BN(skip)))          (zero-initialised: a new coupling is the identity)

    Every convolution is weight-normalised (`WeightNormConv2D`); BN is Keras batch norm,
    synchronised across replicas, batch statistics when `training=True`, moving ones otherwise.
    In inference, each block's second BN (the one right after a convolution) is folded into
    that convolution: the same map up to float rounding, one pass over the activations fewer.
    Set the attribute `fold_batch_norms = False` to run the layers one by one instead.

    With `recompute_blocks=True`, a training call keeps only each residual block's input for
    the backward pass and runs the block again there (`recompute_in_backward`): the same
    values and gradients, the activations of one block at a time instead of all of them, for
    one more forward pass of the blocks.

    Conditional (`conditional_shape` set): the network is called as `net(x, context=c)` and
    the context enters once, added to the first hidden features: P(c) is a learned dense
    projection of c to `num_filters` features (`ContextProjection`), the same at every pixel
    for a vector c [B, K], per pixel for a feature map c [B, h, w, K] resized to [H, W].
    Every later layer, the skip connections and so the output see it.

    Args:
      num_filters: feature maps of the hidden layers.
      num_res_blocks: number of pre-activation residual blocks.
      mask_channel: optional [H, W] 0/1 array appended to the input as a channel (and the input
        doubled): the checkerboard coupling's variant. None for channel-wise couplings.
      use_batch_norm: use batch normalisation in the network.
      magnitude_regularizer: Keras regularizer for every weight-norm magnitude, or None.
      output_channels: channels of the output; None: 2C for inputs of C channels.
      conditional_shape: None (unconditional), or the shape of one context: [K] (a vector,
        such as a one-hot label) or [h, w, K] (a feature map).
      recompute_blocks: in training, recompute each residual block's activations in the
        backward pass instead of keeping them (gradient checkpointing; less memory).

    Example:
      >>> net = ResNetConditioner(num_filters=32, num_res_blocks=2)
      >>> net(tf.zeros([4, 8, 8, 3])).shape
      TensorShape([4, 8, 8, 6])
      >>> keep_mask = checkerboard_mask([8, 8, 1], parity=1)  # a checkerboard coupling's net
      >>> net = ResNetConditioner(8, 1, mask_channel=keep_mask[..., 0])
      >>> net(tf.zeros([4, 8, 8, 1])).shape
      TensorShape([4, 8, 8, 2])
    """

    def __init__(
        self,
        num_filters=64,
        num_res_blocks=8,
        *,
        mask_channel=None,
        use_batch_norm=True,
        magnitude_regularizer=None,
        output_channels=None,
        conditional_shape=None,
        recompute_blocks=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.conditional_shape = (
            None if conditional_shape is None else conditional_event_shape(conditional_shape)
        )
        self.context_projection = None  # built with the input's height and width
        if output_channels is not None and (
            isinstance(output_channels, bool)
            or not isinstance(output_channels, int)
            or output_channels <= 0
        ):
            raise ValueError(
                "`output_channels` must be a positive integer or None; "
                f"got output_channels={output_channels!r}."
            )
        self.output_channels = output_channels
        if int(num_filters) <= 0:
            raise ValueError(f"`num_filters` must be positive; got num_filters={num_filters!r}.")
        if int(num_res_blocks) < 0:
            raise ValueError(
                f"`num_res_blocks` must be >= 0; got num_res_blocks={num_res_blocks!r}."
            )
        self.num_filters = int(num_filters)
        self.num_res_blocks = int(num_res_blocks)
        self.use_batch_norm = bool(use_batch_norm)
        self.recompute_blocks = bool(recompute_blocks)
        self.magnitude_regularizer = keras.regularizers.get(magnitude_regularizer)
        self.mask_channel = None
        if mask_channel is not None:
            mask_channel = np.asarray(mask_channel, dtype="float64")
            if mask_channel.ndim != 2:
                raise ValueError(
                    f"`mask_channel` must be an [H, W] array; got shape {list(mask_channel.shape)}."
                )
            self.mask_channel = mask_channel
        wn = dict(magnitude_regularizer=self.magnitude_regularizer, dtype=self.dtype_policy)
        if self.use_batch_norm:
            self.input_norm = batch_norm_layer(
                "input_norm", center=False, scale=False, dtype=self.dtype_policy
            )
            self.output_norm = batch_norm_layer("output_norm", dtype=self.dtype_policy)
        self.input_conv = WeightNormConv2D(self.num_filters, 3, name="input_conv", **wn)
        self.input_skip = WeightNormConv2D(self.num_filters, 1, name="input_skip", **wn)
        self.blocks = [
            ResidualBlock(
                self.num_filters,
                use_batch_norm=self.use_batch_norm,
                magnitude_regularizer=self.magnitude_regularizer,
                name=f"block_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(self.num_res_blocks)
        ]
        self.block_skips = [
            WeightNormConv2D(self.num_filters, 1, name=f"block_skip_{i}", **wn)
            for i in range(self.num_res_blocks)
        ]
        self.output_conv = None  # its width (by default 2C) is known at build time
        self.fold_batch_norms = True  # see the class docstring

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        channels = int(input_shape[-1])
        if self.mask_channel is not None and tuple(self.mask_channel.shape) != tuple(
            input_shape[1:3]
        ):
            raise ValueError(
                f"`mask_channel` has shape {list(self.mask_channel.shape)} but the input's "
                f"height and width are {list(input_shape[1:3])}."
            )
        if self.use_batch_norm:
            self.input_norm.build(input_shape)
        extra = 1 if self.mask_channel is not None else 0
        self.input_conv.build(input_shape[:-1] + (2 * channels + extra,))
        hidden = input_shape[:-1] + (self.num_filters,)
        self.input_skip.build(hidden)
        if self.conditional_shape is not None:
            self.context_projection = ContextProjection(
                self.num_filters,
                self.conditional_shape,
                spatial_shape=input_shape[1:3],
                name="context_projection",
                dtype=self.dtype_policy,
            )
            self.context_projection.build((None, *self.conditional_shape))
        for block, skip in zip(self.blocks, self.block_skips, strict=True):
            block.build(hidden)
            skip.build(hidden)
        if self.use_batch_norm:
            self.output_norm.build(hidden)
        self.output_conv = WeightNormConv2D(
            self._output_width(channels),
            1,
            zero_init=True,
            magnitude_regularizer=self.magnitude_regularizer,
            name="output_conv",
            dtype=self.dtype_policy,
        )
        self.output_conv.build(hidden)

    def call(self, inputs, context=None, training=False):
        if (context is None) != (self.conditional_shape is None):
            raise ValueError(
                f"{self.name}: built with conditional_shape={self.conditional_shape}, so "
                f"`context` must be {'None' if self.conditional_shape is None else 'given'}; "
                f"got context={describe_value(context)}."
            )
        h = inputs
        if self.use_batch_norm:
            h = self.input_norm(h, training=training)
        if self.mask_channel is not None:
            # Broadcast the [H, W] mask to [B, H, W, 1] by adding it to zeros of that shape.
            mask = ops.zeros_like(h[..., :1]) + ops.cast(self.mask_channel[:, :, None], h.dtype)
            h = ops.concatenate([2.0 * h, -2.0 * h, mask], axis=-1)
        else:
            h = ops.concatenate([h, -h], axis=-1)
        h = self.input_conv(ops.relu(h))
        if context is not None:
            h = h + self.context_projection(context)
        skip = self.input_skip(h)
        for block, block_skip in zip(self.blocks, self.block_skips, strict=True):
            h = self._call_block(block, h, training)
            skip = skip + block_skip(h)
        if self.use_batch_norm:
            skip = self.output_norm(skip, training=training)
        return self.output_conv(ops.relu(skip))

    def _call_block(self, block, h, training):
        def run_block(h):
            return block(h, training=training, fold_batch_norm=self.fold_batch_norms)

        if self.recompute_blocks and training:
            return recompute_in_backward(run_block, h)
        return run_block(h)

    def _output_width(self, input_channels):
        return 2 * input_channels if self.output_channels is None else self.output_channels

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self._output_width(int(input_shape[-1])),)

    def get_config(self):
        mask = None if self.mask_channel is None else self.mask_channel.tolist()
        return {
            **super().get_config(),
            "num_filters": self.num_filters,
            "num_res_blocks": self.num_res_blocks,
            "mask_channel": mask,
            "use_batch_norm": self.use_batch_norm,
            "magnitude_regularizer": keras.regularizers.serialize(self.magnitude_regularizer),
            "output_channels": self.output_channels,
            "conditional_shape": self.conditional_shape,
            "recompute_blocks": self.recompute_blocks,
        }
