"""The base class of this package's bijectors: one evaluation for value and log-det."""

import keras
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import cache_util

tfb = tfp.bijectors

# Every bijector here acts on images: events of rank 3, [H, W, C].
IMAGE_EVENT_NDIMS = 3


class FlowBijector(tfb.Bijector):
    """A `tfb.Bijector` whose value and log-det come from one evaluation, with per-call options.

    Notation, everywhere in this package: x is data (an image), z the latent; the paper's
    f: x -> z is TFP's `inverse`, its inverse g: z -> x is `forward` (sampling).
    Subclasses implement, for events of rank 3 and any batch shape:

        _inverse_and_log_det(x, training, conditional_input) -> (z, log|det dz/dx|)
        _forward_and_log_det(z, training, conditional_input) -> (x, log|det dx/dz|)

    The log-det has the batch shape; `training` is always False in `_forward_and_log_det`.

    TFP's cache is told both results at once (`BijectorCacheWithGreedyAttrs`, as TFP's FFJORD
    does), so `inverse(x)` followed by `inverse_log_det_jacobian(x)` (what
    `TransformedDistribution.log_prob` does) runs each coupling network once.

    `training` is chosen per call: `bijector.inverse(x, training=True)`, or through a
    distribution, `dist.log_prob(x, bijector_kwargs={"training": True})`. Only True trains;
    False and None infer; `forward` (sampling) refuses True (see `training_mode`).

    `conditional_input` is the context c of a conditional flow, p(x | c), TFP's keyword for it
    (as in `tfb.MaskedAutoregressiveFlow`): `bijector.inverse(x, conditional_input=c)`, or
    `dist.log_prob(x, bijector_kwargs={"conditional_input": c, "training": True})`. It travels
    with `training`, through the same functions (`inverse_and_log_det`, `forward_and_log_det`),
    to every step; a step that does not depend on the context (a batch norm) ignores it, and
    None means no context.

    Variables live in Keras layers so that a `keras.Model` can track, train and save them; a
    Keras 3 layer's variables are invisible to `tf.Module`, so `_hold_keras_layers` exposes the
    underlying `tf.Variable`s to it and `dist.trainable_variables` is complete.
    """

    _cache = cache_util.BijectorCacheWithGreedyAttrs(
        forward_name="_augmented_forward", inverse_name="_augmented_inverse"
    )

    def _hold_keras_layers(self, *layers):
        """Keeps `layers` and shows their (built) variables to `tf.Module`."""
        self._keras_layers = tuple(layers)
        self._keras_layer_variables = tuple(
            weight.value for layer in layers for weight in layer.weights
        )

    @property
    def keras_layers(self):
        """Every Keras layer of this bijector and the bijectors inside it, in a fixed order."""
        found, seen = [], set()
        for layer in self._flatten(predicate=lambda v: isinstance(v, keras.layers.Layer)):
            if id(layer) not in seen:
                seen.add(id(layer))
                found.append(layer)
        return found

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        raise NotImplementedError

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        raise NotImplementedError

    def _augmented_forward(self, z, **kwargs):
        x, fldj = forward_and_log_det(self, z, **kwargs)
        return x, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, x, **kwargs):
        z, ildj = inverse_and_log_det(self, x, **kwargs)
        return z, {"ildj": ildj, "fldj": -ildj}

    def _forward(self, z, **kwargs):
        return forward_and_log_det(self, z, **kwargs)[0]

    def _inverse(self, x, **kwargs):
        return inverse_and_log_det(self, x, **kwargs)[0]

    def _forward_log_det_jacobian(self, z, **kwargs):
        self._cache.forward(z, **kwargs)  # evaluates once, filling both log-dets
        return self._cache.forward_attributes(z, **kwargs)["fldj"]

    def _inverse_log_det_jacobian(self, x, **kwargs):
        self._cache.inverse(x, **kwargs)
        return self._cache.inverse_attributes(x, **kwargs)["ildj"]


def training_mode(training, owner):
    """`training` as a Python bool: only True trains; False and None (Keras's "unspecified") infer.

    Anything else (a string, a number, a tensor) is refused, so that no value silently means
    training in one bijector and inference in another.
    """
    if training is None or training is False:
        return False
    if training is True:
        return True
    raise ValueError(f"{owner}: `training` must be True, False or None; got training={training!r}.")


def inverse_and_log_det(bijector, x, training=None, conditional_input=None):
    """(z, log|det dz/dx|) of one step of a flow over image events (the paper's f, data -> latent).

    `training` and `conditional_input` reach this package's bijectors; other TFP bijectors
    (a squeeze, `tfb.Invert`) take neither: they do not depend on the mode or the context.
    """
    if isinstance(bijector, FlowBijector):
        return bijector._inverse_and_log_det(
            x,
            training=training_mode(training, bijector.name),
            conditional_input=conditional_input,
        )
    z = bijector.inverse(x)
    return z, bijector.inverse_log_det_jacobian(x, event_ndims=IMAGE_EVENT_NDIMS)


def forward_and_log_det(bijector, z, training=None, conditional_input=None):
    """(x, log|det dx/dz|) of one step of a flow over image events (sampling, latent -> data).

    Sampling is always in inference mode: batch statistics exist only for data, so
    `training=True` is refused.
    """
    if isinstance(bijector, FlowBijector):
        if training_mode(training, bijector.name):
            raise ValueError(
                f"{bijector.name}: training=True is only defined in the inverse (data -> latent) "
                "direction, where batch statistics of the data exist; got forward(..., "
                "training=True). Sample in inference mode (training=False)."
            )
        return bijector._forward_and_log_det(z, training=False, conditional_input=conditional_input)
    x = bijector.forward(z)
    return x, bijector.forward_log_det_jacobian(z, event_ndims=IMAGE_EVENT_NDIMS)


def image_event_shape(event_shape, arg_name="event_shape"):
    """`event_shape` as a list [H, W, C] of positive ints; ValueError naming `arg_name` if not."""
    try:
        shape = [int(d) for d in event_shape]
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != IMAGE_EVENT_NDIMS or min(shape) <= 0:
        raise ValueError(
            f"`{arg_name}` must be [H, W, C] with positive sizes; got {arg_name}={event_shape!r}."
        )
    return shape


def check_event_shape(tensor, expected, arg_name, owner):
    """Raises ValueError when `tensor`'s static event shape [H, W, C] is not `expected`."""
    event_shape = tensor.shape[-IMAGE_EVENT_NDIMS:]
    if tensor.shape.rank is None or tensor.shape.rank < IMAGE_EVENT_NDIMS:
        raise ValueError(
            f"{owner}: `{arg_name}` must have shape [..., H, W, C]; got shape {tensor.shape}."
        )
    if event_shape.is_fully_defined() and list(event_shape) != list(expected):
        raise ValueError(
            f"{owner}: `{arg_name}` has event shape {list(event_shape)} but this bijector "
            f"was built for event_shape={list(expected)}."
        )
