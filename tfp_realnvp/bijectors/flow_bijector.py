"""The base class of this package's bijectors: one evaluation for value and log-det."""

import keras
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import cache_util

tfb = tfp.bijectors

# Every bijector here acts on images: events of rank 3, [H, W, C].
IMAGE_EVENT_NDIMS = 3


class FlowBijector(tfb.Bijector):
    """A `tfb.Bijector` whose value and log-det come from one evaluation, with per-call `training`.

    Subclasses implement, for events of rank 3 and any batch shape:

        _forward_and_log_det(x, training=False) -> (y, log|det dy/dx|)    shape of ldj: batch
        _inverse_and_log_det(y, training=False) -> (x, log|det dx/dy|)

    TFP's cache is told both results at once (`BijectorCacheWithGreedyAttrs`, as TFP's FFJORD
    does), so `inverse(y)` followed by `inverse_log_det_jacobian(y)` (what
    `TransformedDistribution.log_prob` does) runs each coupling network once.

    `training` is chosen per call: `bijector.inverse(y, training=True)`, or through a
    distribution, `dist.log_prob(y, bijector_kwargs={"training": True})`.

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

    def _forward_and_log_det(self, x, training=False):
        raise NotImplementedError

    def _inverse_and_log_det(self, y, training=False):
        raise NotImplementedError

    def _augmented_forward(self, x, **kwargs):
        y, fldj = self._forward_and_log_det(x, **kwargs)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x, ildj = self._inverse_and_log_det(y, **kwargs)
        return x, {"ildj": ildj, "fldj": -ildj}

    def _forward(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)[0]

    def _inverse(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)[0]

    def _forward_log_det_jacobian(self, x, **kwargs):
        self._cache.forward(x, **kwargs)  # evaluates once, filling both log-dets
        return self._cache.forward_attributes(x, **kwargs)["fldj"]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        self._cache.inverse(y, **kwargs)
        return self._cache.inverse_attributes(y, **kwargs)["ildj"]


def inverse_and_log_det(bijector, y, training=False):
    """(x, log|det dx/dy|) of one step of a flow over image events, passing `training` on."""
    if isinstance(bijector, FlowBijector):
        return bijector._inverse_and_log_det(y, training=training)
    x = bijector.inverse(y)
    return x, bijector.inverse_log_det_jacobian(y, event_ndims=IMAGE_EVENT_NDIMS)


def forward_and_log_det(bijector, x, training=False):
    """(y, log|det dy/dx|) of one step of a flow over image events, passing `training` on."""
    if isinstance(bijector, FlowBijector):
        return bijector._forward_and_log_det(x, training=training)
    y = bijector.forward(x)
    return y, bijector.forward_log_det_jacobian(x, event_ndims=IMAGE_EVENT_NDIMS)


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


def reject_training_in_forward(training, owner):
    """Batch statistics exist only for data: sampling (forward) must use the moving ones."""
    if training is True:
        raise ValueError(
            f"{owner}: training=True is only defined in the inverse (data -> latent) direction, "
            "where batch statistics of the data exist; got forward(..., training=True). Sample "
            "in inference mode (training=False)."
        )
