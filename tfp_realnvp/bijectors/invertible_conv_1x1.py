"""Glow's invertible 1x1 convolution: a learned mixing of the channels, LU-parametrised."""

import keras
import tensorflow as tf

from tfp_realnvp.bijectors.flow_bijector import (
    IMAGE_EVENT_NDIMS,
    FlowBijector,
    check_event_shape,
    image_event_shape,
)


class InvertibleConv1x1(FlowBijector):
    """Mixes the channels of every pixel with one learned invertible matrix: y[h, w] = W x[h, w].

    Glow's f (data -> latent, TFP's `inverse`) and g = f^-1 (`forward`, sampling) over an event
    [H, W, C], with W a C x C matrix in LU form,

        W = P L (U + diag(sign * exp(log_abs_s)))
        f:  y[h, w, :] = W x[h, w, :]
        g:  x[h, w, :] = W^-1 y[h, w, :]
            log|det df/dx| = H*W * log|det W| = H*W * sum_c log_abs_s_c      (H*W pixels)

    P is a fixed permutation, L unit lower triangular and U strictly upper triangular (both
    learned), `log_abs_s` learned and `sign` fixed. The log-det costs O(C) instead of O(C^3), and
    W^-1 = (U + diag(s))^-1 L^-1 P^T comes from two triangular solves. At construction W is a
    random rotation (the Q of a Gaussian matrix's QR decomposition, `keras.initializers.
    Orthogonal`), so the new step preserves volume; its LU decomposition gives the parameters.

    Args:
      event_shape: [H, W, C] of the events.
      seed: int seed of the random rotation, or None (Keras's global seed, as set by
        `keras.utils.set_random_seed`).
      validate_args: check inputs at run time.
      dtype: tf.float32 or tf.float64.
      name: name of the bijector.

    Example:
      >>> mix = tfp_realnvp.InvertibleConv1x1([4, 4, 3], seed=0)
      >>> x = tf.random.normal([2, 4, 4, 3])
      >>> y = mix.inverse(x)                                # each pixel's channels times W
      >>> mix.inverse_log_det_jacobian(x, event_ndims=3).shape  # ~0: W starts as a rotation
      TensorShape([2])

    Reference: Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions",
      NeurIPS 2018, https://arxiv.org/abs/1807.03039, section 3.2.
    """

    def __init__(
        self,
        event_shape,
        *,
        seed=None,
        validate_args=False,
        dtype=tf.float32,
        name="invertible_conv_1x1",
    ):
        parameters = dict(locals())
        event_shape = image_event_shape(event_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None; got seed={seed!r}.")
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as name:
            self._event_shape = event_shape
            self._num_pixels = event_shape[0] * event_shape[1]
            self._factors = LUFactors(event_shape[-1], seed=seed, dtype=dtype.name, name="lu")
            self._hold_keras_layers(self._factors)
            super().__init__(
                forward_min_event_ndims=IMAGE_EVENT_NDIMS,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    def _triangular_factors(self):
        """(L, U + diag(s)) from the stored parameters; entries outside the triangles ignored."""
        factors = self._factors
        lower = tf.linalg.band_part(tf.convert_to_tensor(factors.lower), -1, 0)
        lower = tf.linalg.set_diag(lower, tf.ones([factors.num_channels], self.dtype))
        upper = tf.linalg.band_part(tf.convert_to_tensor(factors.upper), 0, -1)
        diagonal = tf.convert_to_tensor(factors.sign) * tf.exp(factors.log_abs_diagonal)
        return lower, tf.linalg.set_diag(upper, diagonal)

    def kernel(self):
        """W = P L (U + diag(s)), [C, C]: f maps each pixel's channels x to W x."""
        lower, upper = self._triangular_factors()
        return tf.gather(tf.matmul(lower, upper), self._factors.permutation)

    def inverse_kernel(self):
        """W^-1 = (U + diag(s))^-1 L^-1 P^T, [C, C], from two triangular solves."""
        lower, upper = self._triangular_factors()
        # P's row i is the unit vector e_perm[i], so column j of P^T is e_perm[j].
        permutation_transposed = tf.gather(
            tf.eye(self._factors.num_channels, dtype=self.dtype), self._factors.permutation, axis=1
        )
        unlowered = tf.linalg.triangular_solve(lower, permutation_transposed, lower=True)
        return tf.linalg.triangular_solve(upper, unlowered, lower=False)

    def _log_det(self, x):
        """log|det df/dx| = H * W * sum log|s|, with the batch shape of x."""
        log_det = self._num_pixels * tf.reduce_sum(self._factors.log_abs_diagonal)
        return tf.broadcast_to(log_det, tf.shape(x)[:-IMAGE_EVENT_NDIMS])

    def _inverse_and_log_det(self, x, training=False, conditional_input=None):
        del training, conditional_input  # the map depends on neither
        check_event_shape(x, self._event_shape, "x", self.name)
        return tf.einsum("...c,dc->...d", x, self.kernel()), self._log_det(x)

    def _forward_and_log_det(self, z, training=False, conditional_input=None):
        del training, conditional_input
        check_event_shape(z, self._event_shape, "z", self.name)
        return tf.einsum("...c,dc->...d", z, self.inverse_kernel()), -self._log_det(z)


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class LUFactors(keras.layers.Layer):
    """Holds the LU parameters of an `InvertibleConv1x1`'s matrix W = P L (U + diag(s)).

    Weights: `permutation` (int32 [C], fixed: row i of W is row permutation[i] of L (U + diag(s))),
    `lower` and `upper` ([C, C], learned; only their strict lower / upper triangles are used),
    `log_abs_diagonal` ([C], learned log|s|) and `sign` ([C], fixed sign of s). They start as the
    LU decomposition of a random rotation. A Keras layer only so that `keras.Model` tracks,
    trains, distributes and saves them; the map is the bijector's.

    Args:
      num_channels: C.
      seed: int seed of the random rotation, or None (Keras's global seed).
    """

    def __init__(self, num_channels, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_channels = int(num_channels)
        self.seed = seed
        self._create_weights()

    def _create_weights(self):
        # The shapes depend on no input, so the weights exist from construction on.
        with tf.init_scope():  # the decomposition runs once, eagerly, even inside a tf.function
            rotation = keras.initializers.Orthogonal(seed=self.seed)(
                (self.num_channels, self.num_channels), dtype=self.variable_dtype
            )
            lower_upper, row_of_rotation = tf.linalg.lu(rotation)
            diagonal = tf.linalg.diag_part(lower_upper)
            initial = {
                # lu gives rotation = gather(L U, invert_permutation(p)).
                "permutation": tf.math.invert_permutation(row_of_rotation),
                "lower": tf.linalg.band_part(lower_upper, -1, 0) - tf.linalg.diag(diagonal),
                "upper": tf.linalg.band_part(lower_upper, 0, -1) - tf.linalg.diag(diagonal),
                "log_abs_diagonal": tf.math.log(tf.abs(diagonal)),
                "sign": tf.sign(diagonal),
            }
        for name, value in initial.items():
            setattr(
                self,
                name,
                self.add_weight(
                    name=name,
                    shape=value.shape,
                    dtype=value.dtype.name,
                    initializer=lambda shape, dtype, value=value: value,
                    trainable=name in ("lower", "upper", "log_abs_diagonal"),
                ),
            )
        self.built = True

    def call(self, inputs=None):
        return self.lower, self.upper, self.log_abs_diagonal

    def get_config(self):
        return {**super().get_config(), "num_channels": self.num_channels, "seed": self.seed}
