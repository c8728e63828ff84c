"""How a conditional flow's context enters a coupling network: projected and added to features."""

import keras
from keras import ops


def conditional_event_shape(conditional_shape, arg_name="conditional_shape"):
    """`conditional_shape` as a list [K] or [h, w, K] of positive ints; ValueError if not."""
    shape = None
    if not isinstance(conditional_shape, str):
        try:
            shape = [int(d) for d in conditional_shape]
        except (TypeError, ValueError):
            pass
    if shape is None or len(shape) not in (1, 3) or min(shape) <= 0:
        raise ValueError(
            f"`{arg_name}` must be [K] (a vector, such as a one-hot label) or [h, w, K] (a "
            f"feature map), with positive sizes; got {arg_name}={conditional_shape!r}."
        )
    return shape


def describe_value(value):
    """A value as error messages show it: "<float32 of shape [2, 10]>" for a tensor or array,
    its (shortened) repr for anything else."""
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        dtype = getattr(value.dtype, "name", value.dtype)
        return f"<{dtype} of shape {list(value.shape)}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class ContextProjection(keras.layers.Layer):
    """A context c as F features per pixel, to add to a network's hidden layer [B, H, W, F].

        vector c [B, K]:              dense(c)                 [B, 1, 1, F]  (every pixel alike)
        feature map c [B, h, w, K]:   dense(resize(c, [H, W])) [B, H, W, F]

    The dense layer (a learned K x F matrix and bias) on a feature map is a 1x1 convolution;
    the map is resized bilinearly to the features' size (halving it averages 2x2 patches), so
    one context map serves every scale of a multi-scale flow.

    Args:
      units: F, the number of features the projection is added to.
      conditional_shape: [K] or [h, w, K], the shape of one context.
      spatial_shape: [H, W] of the features; needed for a feature-map context.

    Example:
      >>> projection = ContextProjection(16, [10])
      >>> projection(tf.one_hot([3, 7], 10)).shape
      TensorShape([2, 1, 1, 16])
    """

    def __init__(self, units, conditional_shape, spatial_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.conditional_shape = conditional_event_shape(conditional_shape)
        self.spatial_shape = None if spatial_shape is None else [int(d) for d in spatial_shape]
        if len(self.conditional_shape) == 3 and (
            self.spatial_shape is None or len(self.spatial_shape) != 2
        ):
            raise ValueError(
                "A feature-map context needs the features' [H, W] to be resized to; "
                f"got spatial_shape={spatial_shape!r}."
            )
        self.dense = keras.layers.Dense(self.units, name="dense", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build((None, *self.conditional_shape))

    def call(self, context):
        if list(context.shape[1:]) != self.conditional_shape:
            raise ValueError(
                f"{self.name}: `context` must have shape [B, *conditional_shape] = "
                f"[B, {', '.join(map(str, self.conditional_shape))}]; got shape "
                f"{list(context.shape)}."
            )
        context = ops.cast(context, self.compute_dtype)
        if len(self.conditional_shape) == 1:
            return self.dense(context)[:, None, None, :]
        if self.conditional_shape[:2] != self.spatial_shape:
            context = ops.image.resize(context, self.spatial_shape, interpolation="bilinear")
        return self.dense(context)

    def compute_output_shape(self, input_shape):
        if len(self.conditional_shape) == 1:
            return (input_shape[0], 1, 1, self.units)
        return (input_shape[0], *self.spatial_shape, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "conditional_shape": self.conditional_shape,
            "spatial_shape": self.spatial_shape,
        }
