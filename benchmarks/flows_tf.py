"""The TensorFlow flows of the benchmark: this package's Real NVP and TFP's `tfb.Glow`.

Both model dequantised 32x32x3 pixels x in [0, 1] through the same logit preprocessing
(alpha 0.05, its log-det in log p(x)), so their log-likelihoods are in the same units.
"""

import functools

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_realnvp
from benchmarks.common import matching_width

tfb, tfd = tfp.bijectors, tfp.distributions

IMAGE_SHAPE = [32, 32, 3]
LOGIT_ALPHA = 0.05
GLOW_BLOCKS, GLOW_STEPS_PER_BLOCK = 2, 5  # 10 couplings in 2 blocks


def realnvp_flow(size, memory_saving=False, network_dtype_policy=None):
    """The benchmarks' `RealNVPMultiScale`: 2 scales, `size`'s blocks and feature maps."""
    return tfp_realnvp.RealNVPMultiScale(
        IMAGE_SHAPE,
        num_scales=2,
        num_res_blocks=size["num_res_blocks"],
        num_filters=size["num_filters"],
        logit_alpha=LOGIT_ALPHA,
        memory_saving_gradients=memory_saving,
        network_dtype_policy=network_dtype_policy,
    )


def realnvp(size, memory_saving=False, network_dtype_policy=None):
    flow = realnvp_flow(size, memory_saving, network_dtype_policy)
    base = tfd.Sample(tfd.Normal(0.0, 1.0), IMAGE_SHAPE)
    return tfd.TransformedDistribution(base, flow), {"training": True}


def glow(num_hidden):
    """tfb.Glow with `GlowDefaultNetwork(num_hidden)` couplings, after the logit preprocessing.

    Glow's default networks are Keras 2 (tf_keras) models built inside the bijector; they are
    plain variables to a GradientTape, which is all a TFP training loop needs. Glow's ActNorm
    has no training mode, so it gets no `bijector_kwargs`.
    """
    flow = tfb.Glow(
        output_shape=IMAGE_SHAPE,
        num_glow_blocks=GLOW_BLOCKS,
        num_steps_per_block=GLOW_STEPS_PER_BLOCK,
        coupling_bijector_fn=functools.partial(tfb.GlowDefaultNetwork, num_hidden=num_hidden),
        exit_bijector_fn=tfb.GlowDefaultExitNetwork,
    )
    chain = tfb.Chain([tfp_realnvp.LogitPreprocess(LOGIT_ALPHA), flow])
    base = tfd.Sample(tfd.Normal(0.0, 1.0), [int(np.prod(IMAGE_SHAPE))])
    dist = tfd.TransformedDistribution(base, chain)
    dist.sample(1)  # builds Glow's networks (they are created on first use)
    return dist, None


def num_parameters(dist):
    return int(sum(np.prod(v.shape) for v in dist.trainable_variables))


def glow_matching(num_params):
    """The `num_hidden` whose Glow has the parameter count closest to `num_params`."""
    return matching_width(lambda width: num_parameters(glow(width)[0]), num_params)


def dequantise(pixels):
    """(pixels + U[0, 1)) / 256 with fresh noise on every call."""
    pixels = tf.cast(pixels, tf.float32)
    return (pixels + tf.random.uniform(tf.shape(pixels))) / 256.0


def fixed_pixels(batch_size):
    """The benchmark's one batch of random uint8 images [batch_size, 32, 32, 3]."""
    pixels = np.random.default_rng(0).integers(0, 256, size=[batch_size, *IMAGE_SHAPE])
    return tf.constant(pixels, tf.uint8)


def training_step(dist, train_kwargs, jit_compile=False):
    """A `tf.function(pixels) -> loss`: one Adam (1e-3) step on -mean log p(dequantised pixels).

    The optimizer's slots are built here, so the step traces once.
    """
    variables = dist.trainable_variables
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)
    kwargs = {} if train_kwargs is None else {"bijector_kwargs": train_kwargs}

    @tf.function(jit_compile=jit_compile)
    def train_step(pixels):
        x = dequantise(pixels)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x, **kwargs))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    return train_step


def inference_functions(dist, batch_size, jit_compile=False):
    """`tf.function`s `log_prob(pixels)` (inference mode, fresh dequantisation) and `sample()`."""

    @tf.function(jit_compile=jit_compile)
    def log_prob(pixels):
        return dist.log_prob(dequantise(pixels))

    @tf.function(jit_compile=jit_compile)
    def sample():
        return dist.sample(batch_size)

    return log_prob, sample


def conv_flops(concrete_function, batch_size):
    """Forward FLOPs per image of the convolutions and matmuls in a traced graph.

    2 * H_out * W_out * k_h * k_w * C_in * C_out per Conv2D (multiply and add), and 2*M*N*K per
    MatMul, read from the static shapes of the graph's ops, divided by the batch size.
    """
    total = 0
    for op in _all_ops(concrete_function.graph):
        if op.type in ("Conv2D", "_FusedConv2D"):
            out = op.outputs[0].shape.as_list()
            kh, kw, cin, _ = op.inputs[1].shape.as_list()
            total += 2 * int(np.prod(out)) * kh * kw * cin
        elif op.type in ("MatMul", "BatchMatMulV2"):
            a, out = op.inputs[0].shape.as_list(), op.outputs[0].shape.as_list()
            transpose_a = op.get_attr("transpose_a") if op.type == "MatMul" else False
            inner = a[-2] if transpose_a else a[-1]
            total += 2 * int(np.prod(out)) * inner
    return total / batch_size


def _all_ops(graph):
    yield from graph.get_operations()
    for function in getattr(graph, "_functions", {}).values():
        inner = getattr(function, "graph", None)
        if inner is not None:
            yield from _all_ops(inner)
