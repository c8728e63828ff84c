"""The Keras 3 model around a multi-scale Real NVP flow: fit, evaluate, save, export."""

import math
import warnings

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_realnvp.bits_per_dim import bits_per_dim
from tfp_realnvp.real_nvp_multiscale import RealNVPMultiScale
from tfp_realnvp.training.conditioning import Conditioning
from tfp_realnvp.training.dequantization import (
    VariationalDequantizer,
    normal_from_uniform,
    split_dequantized,
)
from tfp_realnvp.training.graph_optimization import with_one_round_graph_optimization
from tfp_realnvp.training.image_checks import as_images, checked_images, pixel_domain
from tfp_realnvp.training.recipe import default_optimizer
from tfp_realnvp.training.refresh_statistics import (
    DEFAULT_REFRESH_STEPS,
    refresh_batch_norm_statistics,
)
from tfp_realnvp.training.replicas import num_replicas, reducible_across_workers
from tfp_realnvp.training.saved_model_export import export_saved_model
from tfp_realnvp.training.skip_non_finite_steps import skipping_non_finite_steps

tfd = tfp.distributions


# Keras traces its train/test/predict steps with AutoGraph on, which would convert every function
# of this package that a step calls (reading and rewriting their source: 8-14% of the first
# step's trace). Their control flow is Python's over Python values and TF's own ops
# (`tf.cond`, `tf.where`), so they are traced as written.
_traced_as_written = tf.autograph.experimental.do_not_convert


@keras.saving.register_keras_serializable(package="tfp_realnvp")
class RealNVPModel(keras.Model):
    """A `keras.Model` that fits a `RealNVPMultiScale` flow by maximum likelihood.

        log p(x) = log N(f(x); 0, I) + log|det df/dx|,      f = flow.inverse
        loss     = mean over the batch of -log p(x)  (nats per image, pixel space)
                   + L2 on the weight-norm magnitudes and coupling scales (Keras regularizers)
        bits/dim = (-log p(x) + D ln(num_bins)) / (D ln 2)     (the metric; no L2 in it)

    `call(x, training)` returns log p(x) [B]; `fit` runs it with `training=True` (batch-norm
    batch statistics, moving averages updated), `evaluate`, `predict`, `log_prob`, `sample`,
    `encode` and `decode` in inference mode (moving averages: a fixed, invertible map). The model
    is a deterministic function of its input: dequantisation noise belongs to the input pipeline,
    whose batches are float images [B, H, W, C] with values in [0, 1].

    Inputs are checked, always: integer images (raw pixels) are rejected at once with what to
    do; `fit`, `evaluate`, `log_prob` and `bits_per_dim` raise `tf.errors.InvalidArgumentError`
    when a batch holds NaN, infinite or out-of-range values (outside the logit
    preprocessing's domain, [0, 1] widened by alpha / (1 - 2 alpha), where samples lie)
    instead of returning NaN; the step of a refused batch changes nothing. A training step whose
    loss or gradient is not finite is skipped, with or without a `tf.distribute` strategy
    (`compile` wraps the optimizer in `SkipNonFiniteSteps`): weights, optimizer state and
    iterations, and batch-norm statistics stay as they were, the `skipped_steps` log counts
    such steps in each epoch and `fit` ends with a warning saying how many.

    Conditional models, p(x | y): with `num_classes` K the flow must be conditioned on one-hot
    labels (`RealNVPMultiScale(..., conditional_shape=[K])`); batches are `(images, labels)`
    with integer labels [B], which the model one-hots; `log_prob(x, labels)`,
    `bits_per_dim(x, labels)`, `sample(n, labels=...)`, `encode`/`decode` with labels, and
    `classify(x)` = p(y | x) by Bayes' rule. Another conditional flow (any context c, not
    labels) is trained the same way from `(images, contexts)` batches, with `num_classes=None`,
    and its methods take `conditional_input=c`.

    Under `tf.distribute`, the loss of each replica is divided by the number of replicas, as
    Keras does with its own compiled losses, so the summed gradients equal those of one device
    on the global batch; the flow's batch statistics are taken over the global batch.

    The training, evaluation and prediction steps are traced without AutoGraph: a conditioner
    of your own branches on a tensor's value with `keras.ops.cond`, not a Python `if`.

    Args:
      flow: a `RealNVPMultiScale`. Its Keras layers are held by this model (`flow_layers`), so
        Keras tracks, trains, distributes and saves every variable.
      num_bins: how many values a pixel takes (256 for 8-bit images, 17 for scikit-learn's
        digits); only the reported bits/dim depends on it.
      num_classes: None, or K >= 2 for a class-conditional model of a flow built with
        `conditional_shape=[K]`.
      dequantizer: None (uniform dequantisation: the pipeline's x = (p + u) / K is the
        input), or a `VariationalDequantizer` q(u | p), trained with the flow: the model then
        replaces the pipeline's u by a draw from q (driven by the same noise) and is trained
        on, and reports, the variational bound; see `log_likelihood_bound`.
      name: the model's name; other keyword arguments go to `keras.Model`.

    Example (scikit-learn's 8x8 digits):
      >>> train = tfp_realnvp.data.load("digits", split="train", batch_size=64)
      >>> test = tfp_realnvp.data.load("digits", split="test", batch_size=300, noise_seed=0)
      >>> flow = tfp_realnvp.RealNVPMultiScale([8, 8, 1], num_res_blocks=1, num_filters=8)
      >>> model = tfp_realnvp.RealNVPModel(flow, num_bins=17)
      >>> model.compile()  # Adam 1e-3, global_clipnorm=100
      >>> # Training takes minutes, so the tests skip this line:
      >>> history = model.fit(train, epochs=10, validation_data=test)  # doctest: +SKIP
      >>> sorted(model.evaluate(test, return_dict=True, verbose=0))
      ['bits_per_dim', 'loss']
      >>> model.sample(16, temperature=0.7).shape
      TensorShape([16, 8, 8, 1])
    """

    def __init__(
        self,
        flow,
        num_bins=256,
        num_classes=None,
        dequantizer=None,
        name="real_nvp_model",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(flow, RealNVPMultiScale):
            raise TypeError(
                f"`flow` must be a tfp_realnvp.RealNVPMultiScale; got {type(flow).__name__}."
            )
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(f"`num_bins` must be an integer >= 2; got num_bins={num_bins!r}.")
        self._flow = flow
        self.num_bins = num_bins
        self._conditioning = Conditioning(flow, num_classes)
        self.num_classes = self._conditioning.num_classes
        self.event_shape = tuple(flow.event_shape)
        self._domain = pixel_domain(flow.options.logit_alpha)
        # Keras 3 does not look inside tf.Modules: hold the flow's layers so that fit trains,
        # tf.distribute mirrors and save / save_weights store every variable.
        self.flow_layers = flow.keras_layers
        self.dequantizer = _checked_dequantizer(dequantizer, flow, num_bins)
        if dequantizer is not None:
            self.dequantizer_layers = dequantizer.keras_layers
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.skipped_steps_tracker = keras.metrics.Sum(name="skipped_steps")
        self._refresh_function = None  # traced by `refresh_batch_norm_statistics`
        self._bound_function = None  # traced by `evaluate_bound`
        # Every variable exists already (the flow builds its layers at construction).
        self.built = True

    # -- the distribution -----------------------------------------------------------------------

    @property
    def flow(self):
        """The `RealNVPMultiScale` bijector (forward: latent -> image)."""
        return self._flow

    def base_distribution(self, temperature=1.0):
        """The latents' distribution N(0, temperature^2 I) over [H, W, C] (`tfd.Sample`)."""
        dtype = self._flow.dtype
        normal = tfd.Normal(tf.zeros([], dtype), tf.cast(temperature, dtype))
        return tfd.Sample(normal, sample_shape=self.event_shape)

    def distribution(self):
        """The flow as a `tfd.TransformedDistribution` over images, standard normal base."""
        return tfd.TransformedDistribution(self.base_distribution(), self._flow)

    def call(self, inputs, training=False):
        """The log-likelihood the model is trained on and reports, in nats: [B, H, W, C] -> [B].

        Uniform dequantisation: log p(x), pixel space, x float in [0, 1]. With a variational
        dequantizer: the one-sample bound log p(x') - log q(u' | p) of the pixels p of x, where
        x' = (p + u') / K and u' ~ q(u | p) is driven by x's own uniform noise
        (`normal_from_uniform`). `inputs` is x, or for a conditional model (x, labels)
        (`num_classes` set: integer labels [B]) or (x, c) (another conditional flow: its
        context c).
        """
        x, context = self._conditioning.split_inputs(inputs)
        x = checked_images(x, self._flow.dtype, self._domain)
        if self.dequantizer is None:
            return self._log_density(x, context, training)
        pixels, uniform = split_dequantized(x, self.num_bins)
        return self._dequantized_log_prob(pixels, normal_from_uniform(uniform), context, training)

    def _log_density(self, x, context, training):
        """log p(x) of the flow, nats, pixel space (x checked)."""
        bijector_kwargs = {"training": bool(training), **self._conditioning.flow_kwargs(context)}
        return self.distribution().log_prob(x, bijector_kwargs=bijector_kwargs)

    def _dequantized_log_prob(self, pixels, eps, context, training):
        """log p((p + u) / K) - log q(u | p), u = the dequantizer's noise for normal `eps`."""
        u, log_q = self.dequantizer.noise_and_log_prob(pixels, eps)
        x = (pixels + u) / float(self.num_bins)
        return self._log_density(x, context, training) - log_q

    def log_prob(self, x, labels=None, *, conditional_input=None):
        """log p(x) (or log p(x | labels), or log p(x | conditional_input)) in inference mode
        (moving batch-norm statistics): [B, H, W, C] -> [B]. The flow's density at x, also
        with a variational dequantizer (`log_likelihood_bound` bounds the pixels' own)."""
        x, context = self._conditioning.split_inputs(
            self._conditioning.inputs(x, labels, conditional_input)
        )
        return self._log_density(checked_images(x, self._flow.dtype, self._domain), context, False)

    def evaluate_bound(self, batches, importance_samples=1, seed=0):
        """The mean of `bits_per_dim(log_likelihood_bound(...))` over `batches` (images, or
        (images, labels) for a class-conditional model): the held-out bits/dim bound with S
        importance samples, each batch with its own stateless seed derived from `seed`."""
        if self._bound_function is None:
            self._bound_function = with_one_round_graph_optimization(
                tf.function(self.log_likelihood_bound, reduce_retracing=True)
            )
        total, count = 0.0, 0
        for index, batch in enumerate(batches):
            x, labels = (batch, None) if self.num_classes is None else batch[:2]
            bound = self._bound_function(
                x, labels, importance_samples=importance_samples, seed=tf.constant([seed, index])
            )
            bits = bits_per_dim(bound, self.event_shape, self.num_bins)
            total += float(tf.reduce_sum(bits))
            count += int(bits.shape[0])
        if not count:
            raise ValueError("`batches` must hold at least one image; got none.")
        return total / count

    def log_likelihood_bound(
        self, x, labels=None, *, conditional_input=None, importance_samples=1, seed=None
    ):
        """A lower bound on log P(p) + D ln K of the pixels p = floor(x K) of images x: [B].

            log (1/S) sum_s p((p + u_s) / K) / q(u_s | p),   u_1..u_S ~ q(u | p)   (S samples)

        in inference mode; q is the dequantizer (uniform without one: log q = 0). S = 1 is the
        variational bound the model trains on; it tightens as S grows (Burda et al. 2016), and
        `bits_per_dim` of it bounds the pixels' bits/dim from above. Fresh noise is drawn for
        each call (`seed`: a stateless seed [2] for the same noise each time).
        """
        if (
            isinstance(importance_samples, bool)
            or not isinstance(importance_samples, int)
            or (importance_samples < 1)
        ):
            raise ValueError(
                "`importance_samples` must be an integer >= 1; got "
                f"importance_samples={importance_samples!r}."
            )
        x, context = self._conditioning.split_inputs(
            self._conditioning.inputs(x, labels, conditional_input)
        )
        pixels, _ = split_dequantized(
            checked_images(x, self._flow.dtype, self._domain), self.num_bins
        )
        shape = tf.concat([[importance_samples], tf.shape(pixels)], 0)
        if seed is None:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
        tiled = tf.reshape(
            tf.repeat(pixels[tf.newaxis], importance_samples, 0), [-1, *self.event_shape]
        )
        if context is not None:
            context = tf.repeat(context[tf.newaxis], importance_samples, 0)
            context = tf.reshape(context, [-1, *context.shape[2:]])
        if self.dequantizer is None:
            u = tf.random.stateless_uniform(shape, seed)
            log_ratio = self._log_density(
                (tiled + tf.reshape(u, tf.shape(tiled))) / float(self.num_bins), context, False
            )
        else:
            eps = tf.reshape(tf.random.stateless_normal(shape, seed), tf.shape(tiled))
            log_ratio = self._dequantized_log_prob(tiled, eps, context, False)
        log_ratio = tf.reshape(log_ratio, [importance_samples, -1])
        return tf.reduce_logsumexp(log_ratio, 0) - math.log(importance_samples)

    def bits_per_dim(self, x, labels=None, *, conditional_input=None):
        """Bits per dimension of each image of x in inference mode: [B, H, W, C] -> [B]."""
        log_prob = self.log_prob(x, labels, conditional_input=conditional_input)
        return bits_per_dim(log_prob, self.event_shape, self.num_bins)

    def encode(self, x, per_scale=False, *, labels=None, conditional_input=None):
        """The latent f(x) [B, H, W, C] of images (inference mode); per_scale: one per scale.

        A conditional model encodes with the images' labels (or context): f(x; y).
        """
        context = self._conditioning.context(labels, conditional_input)
        z = self._flow.inverse(
            as_images(x, self._flow.dtype), **self._conditioning.flow_kwargs(context)
        )
        return self._flow.split_latents(z) if per_scale else z

    def decode(self, z, *, labels=None, conditional_input=None):
        """Images g(z) from a latent [B, H, W, C], or from a list with one latent per scale.

        The images lie in (-alpha / (1 - 2 alpha), 1 + alpha / (1 - 2 alpha)); clip only where
        an image is written. A conditional model decodes with labels (or a context): g(z; y).
        """
        if isinstance(z, (list, tuple)):
            z = self._flow.merge_latents(z)
        context = self._conditioning.context(labels, conditional_input)
        z = tf.convert_to_tensor(z, self._flow.dtype)
        return self._flow.forward(z, **self._conditioning.flow_kwargs(context))

    def sample(
        self, num_samples, temperature=1.0, seed=None, *, labels=None, conditional_input=None
    ):
        """`num_samples` images [N, H, W, C] from latents z ~ N(0, temperature^2 I).

        Temperature < 1 trades diversity for quality (the base distribution's standard deviation
        is scaled; the flow runs in inference mode). A class-conditional model samples from
        p(x | y) with `labels`: one integer label for all samples, or one per sample [N]; another
        conditional model with `conditional_input` (one context, or one per sample).
        """
        if isinstance(num_samples, int) and num_samples < 0:
            raise ValueError(f"`num_samples` must be >= 0; got num_samples={num_samples!r}.")
        if isinstance(temperature, (int, float)) and not temperature >= 0:
            raise ValueError(f"`temperature` must be >= 0; got temperature={temperature!r}.")
        if isinstance(num_samples, int) and num_samples == 0:
            # Convolutions reject empty batches.
            return tf.zeros([0, *self.event_shape], self._flow.dtype)
        context = self._conditioning.context(labels, conditional_input)
        z = self.base_distribution(temperature).sample(num_samples, seed=seed)
        return self._flow.forward(z, **self._conditioning.flow_kwargs(context))

    def classify(self, x):
        """p(y | x) [B, K] of images x [B, H, W, C], by Bayes' rule with a uniform prior p(y):

            p(y | x) = p(x | y) / sum_y' p(x | y') = softmax_y(log p(x | y))

        One batched evaluation of log p(x | y) for every image and every class (K * B images
        through the flow, inference mode). `tf.argmax(model.classify(x), -1)` is the predicted
        class.
        """
        if self.num_classes is None:
            raise ValueError(
                "`classify` needs a class-conditional model, RealNVPModel(flow, "
                "num_classes=K); this one has num_classes=None."
            )
        x = as_images(x, self._flow.dtype)
        batch = tf.shape(x)[0]
        classes = tf.range(self.num_classes)
        tiled = tf.tile(x, [self.num_classes, 1, 1, 1])  # class-major: class k, then image b
        log_prob = self.log_prob(tiled, tf.repeat(classes, batch))
        return tf.nn.softmax(tf.transpose(tf.reshape(log_prob, [self.num_classes, batch])))

    # -- conditioning ---------------------------------------------------------------------------

    @property
    def is_conditional(self):
        """Whether the flow takes a context: labels (`num_classes`) or another one."""
        return self._conditioning.is_conditional

    def one_hot(self, labels):
        """Integer class labels [...] -> the flow's context, one-hot vectors [..., K]."""
        return self._conditioning.one_hot(labels)

    # -- training -------------------------------------------------------------------------------

    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Configures training; the loss is always the negative log-likelihood.

        Args:
          optimizer: a Keras optimizer or its name; None: Adam 1e-3 with global_clipnorm=100.
            It is wrapped in `SkipNonFiniteSteps` (`model.optimizer`), so that a step whose
            loss or gradients are not finite changes nothing, on every device.
          loss, metrics: must be None (the loss and the `bits_per_dim` metric are built in).
          **kwargs: as `keras.Model.compile` (`jit_compile`, `steps_per_execution`, ...).
        """
        if loss is not None:
            raise ValueError(
                "RealNVPModel's loss is the negative log-likelihood (plus the L2 penalty); "
                f"do not pass `loss`; got loss={loss!r}."
            )
        if metrics is not None:
            raise ValueError(
                f"RealNVPModel reports `bits_per_dim` itself; do not pass `metrics`; "
                f"got metrics={metrics!r}."
            )
        optimizer = keras.optimizers.get(optimizer or default_optimizer())
        super().compile(optimizer=skipping_non_finite_steps(optimizer), **kwargs)
        # Create the optimizer's slots now, eagerly (in the strategy's scope): built lazily
        # inside the first traced train step, they cost a second trace of the whole step.
        with self.distribute_strategy.scope():
            if not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean -log p(x) over this replica's batch plus the L2 penalty, scaled for tf.distribute.

        `y_pred` is `call`'s log p(x). Keras sums the replicas' gradients, so the loss of each
        replica is divided by the number of replicas, as Keras does with its compiled losses;
        the `loss` metric shows it unscaled again.
        """
        del x, y, sample_weight, training
        loss = tf.cast(-tf.reduce_mean(y_pred), keras.backend.floatx())
        penalties = [tf.cast(penalty, loss.dtype) for penalty in self.losses]
        return tf.add_n([loss, *penalties]) / num_replicas(loss.dtype)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the bits/dim metric from log p(x) (the L2 penalty is not in it).

        Returns the logs of a step: `loss` and `bits_per_dim` (`train_step` adds
        `skipped_steps`).
        """
        self.bits_per_dim_tracker.update_state(
            bits_per_dim(y_pred, self.event_shape, self.num_bins)
        )
        logs = self.get_metrics_result()
        del logs[self.skipped_steps_tracker.name]
        return logs

    @property
    def metrics(self):
        return [*super().metrics, self.bits_per_dim_tracker, self.skipped_steps_tracker]

    @_traced_as_written
    def train_step(self, data):
        """One step of maximum likelihood: tape, gradients, apply, metrics.

        The optimizer (`FusedAdam`, or any other that `compile` wrapped in `SkipNonFiniteSteps`)
        applies the step only if the loss and every gradient are finite on every replica, and
        returns whether it did. A skipped step changes
        nothing: the batch-norm statistics that its forward pass moved are put back, the loss
        and bits/dim metrics do not see it, and `skipped_steps` counts it. The same code runs
        with and without a `tf.distribute` strategy.
        """
        x = keras.utils.unpack_x_y_sample_weight(self._conditioning.as_inputs_only(data))[0]
        statistics = [(v, tf.convert_to_tensor(v)) for v in self.non_trainable_variables]
        with tf.GradientTape() as tape:
            log_prob = self(x, training=True)
            loss = self.compute_loss(y_pred=log_prob)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        applied = self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        for variable, before in statistics:  # a skipped step's statistics are put back
            variable.assign(tf.where(applied, variable, before))
        return self._step_metrics(loss, log_prob, applied)

    def _step_metrics(self, loss, log_prob, applied):
        """Updates the loss, bits/dim and skipped-steps metrics; a skipped step weighs 0."""
        weight = tf.cast(applied, loss.dtype)
        for metric in self.metrics:
            if metric.name == "loss":  # Keras's loss metric (the public way to reach it)
                batch_size = tf.cast(tf.shape(log_prob)[0], loss.dtype)
                metric.update_state(
                    tf.where(applied, loss * num_replicas(loss.dtype), 0.0), batch_size * weight
                )
        bits = bits_per_dim(log_prob, self.event_shape, self.num_bins)
        self.bits_per_dim_tracker.update_state(
            tf.where(applied, bits, tf.zeros_like(bits)), tf.broadcast_to(weight, tf.shape(bits))
        )
        # A Sum over replicas: each replica counts its share of the (agreed) skipped step.
        self.skipped_steps_tracker.update_state((1.0 - weight) / num_replicas(loss.dtype))
        return reducible_across_workers(self.get_metrics_result())

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; warns when training steps were skipped (non-finite loss)."""
        history = super().fit(*args, **kwargs)
        skipped = int(sum(history.history.get(self.skipped_steps_tracker.name, [])))
        if skipped:
            warnings.warn(
                f"RealNVPModel.fit skipped {skipped} training step(s) whose loss or gradient was "
                "NaN or infinite (see the `skipped_steps` log per epoch); those steps changed "
                "nothing. If it keeps happening, lower the learning rate or check the data.",
                stacklevel=2,
            )
        return history

    # Keras's step functions, called so that Grappler optimises their graphs in one round and
    # without its GPU memory optimizer: a shorter first step, the same steady one.

    def make_train_function(self, force=False):
        return self._optimised_once("train_function", super().make_train_function, force)

    def make_test_function(self, force=False):
        return self._optimised_once("test_function", super().make_test_function, force)

    def make_predict_function(self, force=False):
        return self._optimised_once("predict_function", super().make_predict_function, force)

    def _optimised_once(self, name, make_function, force):
        if getattr(self, name) is not None and not force:
            return getattr(self, name)
        make_function(force=True)  # Keras sets `self.<name>` (and returns it, or not)
        setattr(self, name, with_one_round_graph_optimization(getattr(self, name)))
        return getattr(self, name)

    @_traced_as_written
    def test_step(self, data):
        return reducible_across_workers(super().test_step(self._conditioning.as_inputs_only(data)))

    @_traced_as_written
    def predict_step(self, data):
        return super().predict_step(self._conditioning.as_inputs_only(data))

    def refresh_batch_norm_statistics(self, batches, steps=DEFAULT_REFRESH_STEPS):
        """Re-estimates every moving batch-norm statistic for the current weights: `steps`
        batches through the flow in training mode, no gradient step
        (`tfp_realnvp.training.refresh_statistics.refresh_batch_norm_statistics`).

        Returns the number of batches run.
        """
        return refresh_batch_norm_statistics(self, batches, steps)

    # -- saving ---------------------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "flow": self._flow.get_config(),
            "num_bins": self.num_bins,
            "num_classes": self.num_classes,
            "dequantizer": None if self.dequantizer is None else self.dequantizer.get_config(),
        }

    def compile_from_config(self, config):
        """Recompiles a loaded model as it was saved, so its optimizer state is restored too."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        flow = RealNVPMultiScale.from_config(config.pop("flow"))
        dequantizer = config.pop("dequantizer", None)
        if dequantizer is not None:
            dequantizer = VariationalDequantizer.from_config(dequantizer)
        return cls(flow, dequantizer=dequantizer, **config)

    def export(self, filepath, format="tf_saved_model", verbose=None, **kwargs):
        """Exports a SavedModel with the signatures `log_prob` and `sample` (inference mode):
        see `tfp_realnvp.training.saved_model_export.export_saved_model`. Other formats: as
        `keras.Model.export`.
        """
        if format != "tf_saved_model":
            return super().export(filepath, format=format, verbose=verbose, **kwargs)
        return export_saved_model(self, filepath, verbose=verbose)


def _checked_dequantizer(dequantizer, flow, num_bins):
    """`dequantizer`, if None or a `VariationalDequantizer` of the flow's images and bins."""
    if dequantizer is None:
        return None
    if not isinstance(dequantizer, VariationalDequantizer):
        raise TypeError(
            "`dequantizer` must be None or a tfp_realnvp.training.VariationalDequantizer; got "
            f"{type(dequantizer).__name__}."
        )
    if list(dequantizer.image_shape) != list(flow.event_shape) or dequantizer.num_bins != num_bins:
        raise ValueError(
            f"`dequantizer` must be of the flow's images {list(flow.event_shape)} and num_bins="
            f"{num_bins}; got dequantizer=VariationalDequantizer(image_shape="
            f"{list(dequantizer.image_shape)}, num_bins={dequantizer.num_bins})."
        )
    return dequantizer
