"""The coupling layer: kept units pass through and parametrise an elementwise map of the others."""

import keras
import numpy as np
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
)

_EVENT_AXES = [-3, -2, -1]


class MaskedCoupling(FlowBijector):
    """A coupling layer with a binary mask, for any elementwise map of the transformed units.

    With keep_mask b (1 = passed through and conditioned on), parameters theta = NN(b * x) from
    a conditioner network and an elementwise bijection h(.; theta) chosen by the subclass, the
    paper's f (data x -> latent z, TFP's `inverse`) and g = f^-1 (`forward`, sampling) are

        f:  z = b*x + (1-b) * h(x; NN(b*x))          log|det dz/dx| = sum((1-b) * log h'(x))
        g:  x = b*z + (1-b) * h^-1(z; NN(b*z))

    g sees the same network input as f, since the kept units of z equal those of x: the
    Jacobian is triangular and the network is evaluated once per direction (value and log-det
    together), with `training` passed on.

    Conditional: with a context c (`conditional_input=c`, [..., *conditional_shape], the batch
    shape of x), the parameters are NN(b*x, c): the network is called as
    `conditioner(b*x, context=c, training=...)`. The Jacobian in x keeps its triangular form,
    so both log-dets above hold for every c.

    Subclasses define the map by

        params_per_unit                     network outputs per transformed unit (P)
        transform(x, params)   -> (z, log|det dz/dx|)      f given the network's output
        untransform(z, params) -> (x, log|det dx/dz|)      g given the network's output

    where `params` is `network_output(b*x)` [..., H, W, P*C]. These two and `network_output` are
    public so that other code (`RecomputedCoupling`) runs the very same arithmetic.

    Args:
      keep_mask: [H, W, C] array of 0/1, 1 = passed through; see `checkerboard_mask` and
        `channel_mask`. Fixes the event shape.
      conditioner: a Keras 3 layer [B, H, W, C] -> [B, H, W, P*C], built here for inputs
        [None, H, W, C] if not yet built; in a conditional flow it also takes the keyword
        `context` (for example `ResNetConditioner(..., conditional_shape=...)`). A
        zero-initialised last layer makes a new coupling the identity for every map of this
        package.
      validate_args: check inputs at run time (here: only static shapes are checked).
      dtype: tf.float32 or tf.float64. The conditioner may compute in a narrower dtype (mixed
        precision): its output is cast to `dtype`.
      name: name of the bijector.
      parameters: a subclass's own constructor arguments (TFP's `parameters`).
    """

    params_per_unit = None  # set by subclasses: network outputs per transformed unit
    params_layout = None  # set by subclasses: what the network's outputs mean, for errors

    def __init__(
        self,
        keep_mask: np.ndarray,
        conditioner: keras.layers.Layer,
        *,
        validate_args: bool = False,
        dtype: tf.DType | str = tf.float32,
        name: str = "masked_coupling",
        parameters: dict | None = None,
    ) -> None:
        parameters = dict(locals()) if parameters is None else parameters
        keep_mask = np.asarray(keep_mask)
        if keep_mask.ndim != IMAGE_EVENT_NDIMS:
            raise ValueError(
                f"`keep_mask` must have shape [H, W, C]; got shape {list(keep_mask.shape)}."
            )
        if not np.all((keep_mask == 0) | (keep_mask == 1)):
            raise ValueError("`keep_mask` must contain only 0 and 1 (1 = passed through).")
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as name:
            self._keep = tf.constant(keep_mask, dtype=dtype)
            self._keep_bool = tf.constant(keep_mask.astype(bool))
            self._event_shape = list(keep_mask.shape)
            self._conditioner = conditioner
            if not conditioner.built:
                conditioner.build((None, *self._event_shape))
            self._hold_keras_layers(conditioner, *self._map_layers())
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    def _map_layers(self):
        """Keras layers holding the map's own variables (besides the conditioner's)."""
        return ()

    @property
    def keep_mask(self):
        """[H, W, C] tensor, 1 = passed through."""
        return self._keep

    @property
    def conditioner(self):
        return self._conditioner

    @property
    def event_shape(self):
        return list(self._event_shape)

    def network_output(
        self, kept: tf.Tensor, training: bool = False, conditional_input: tf.Tensor | None = None
    ) -> tf.Tensor:
        """NN(b*x[, c]): the conditioner's output [..., H, W, P*C] for the kept units `kept` = b*x.

        With `conditional_input` c ([..., *conditional_shape], the batch shape of `kept`), the
        conditioner is called with `context=c`.
        """
        check_event_shape(kept, self._event_shape, "x", self.name)
        # Keras convolutions take one batch axis: fold any batch shape into it and back.
        inputs = tf.reshape(kept, [-1, *self._event_shape])
        if conditional_input is None:
            flat = self._conditioner(inputs, training=training)
        else:
            batch_rank = kept.shape.rank - IMAGE_EVENT_NDIMS
            context = tf.reshape(conditional_input, [-1, *conditional_input.shape[batch_rank:]])
            flat = self._conditioner(inputs, context=context, training=training)
        # A mixed-precision network computes in a narrower dtype; the coupling does not.
        flat = tf.cast(flat, self._keep.dtype)
        per_unit = self.params_per_unit
        width = per_unit * self._event_shape[-1]
        if flat.shape[-1] != width:
            raise ValueError(
                f"{self.name}: the conditioner must return {'' if per_unit == 1 else per_unit}C = "
                f"{width} channels ({self.params_layout}); it returned shape {flat.shape}."
            )
        return tf.reshape(flat, tf.concat([tf.shape(kept)[:-1], [width]], axis=0))

    def masked(
        self, kept_value: tf.Tensor, new_value: tf.Tensor, log_derivative: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(b*kept_value + (1-b)*new_value, sum((1-b) * log_derivative)) over each event."""
        value = tf.where(self._keep_bool, kept_value, new_value)
        zero = tf.zeros([], log_derivative.dtype)
        log_det = tf.reduce_sum(tf.where(self._keep_bool, zero, log_derivative), axis=_EVENT_AXES)
        return value, log_det

    def transform(self, x: tf.Tensor, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """f given the network's output: (z, log|det dz/dx|) with the batch shape."""
        raise NotImplementedError

    def untransform(self, z: tf.Tensor, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """g given the network's output: (x, log|det dx/dz|) with the batch shape."""
        raise NotImplementedError

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        params = self.network_output(x * self._keep, training, conditional_input)
        return self.transform(x, params)

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        params = self.network_output(z * self._keep, training, conditional_input)
        return self.untransform(z, params)
