"""A `RealNVPModel` as a TensorFlow SavedModel with `log_prob` and `sample` signatures."""

import keras
import tensorflow as tf

from tfp_realnvp.bits_per_dim import bits_per_dim


def export_saved_model(model, filepath, verbose=False):
    """Writes `model` (a `RealNVPModel`) to `filepath` as a SavedModel (inference mode):

        log_prob(x: float [B, H, W, C]) -> {"log_prob": [B], "bits_per_dim": [B]}
        sample(num_samples: int32 [], temperature: float []) -> {"samples": [N, H, W, C]}

    A class-conditional model's signatures also take `labels: int32 [B]` (in `sample`: [N],
    or [1] for all), another conditional model's `conditional_input` [B, *conditional_shape]
    (in `sample`: [N, ...] or [1, ...]). `serving_default` is `log_prob`. It loads with
    TensorFlow alone (`tf.saved_model.load(path).signatures["sample"](...)`).

    Returns the `keras.export.ExportArchive`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    dtype = model.flow.dtype

    # The condition of a conditional model: () or (name, spec of one batch of it).
    condition = ()
    if model.num_classes is not None:
        condition = ("labels", tf.TensorSpec([None], tf.int32, name="labels"))
    elif model.is_conditional:
        shape = [None, *model.flow.conditional_shape]
        condition = ("conditional_input", tf.TensorSpec(shape, dtype, name="conditional_input"))
    condition_specs = list(condition[1:])

    def serve_log_prob(x, *context):
        log_prob = model.log_prob(x, **dict(zip(condition[:1], context, strict=True)))
        return {
            "log_prob": log_prob,
            "bits_per_dim": bits_per_dim(log_prob, model.event_shape, model.num_bins),
        }

    def serve_sample(num_samples, temperature, *context):
        # One condition for every sample, or one per sample.
        context = [
            tf.broadcast_to(c, tf.concat([[num_samples], tf.shape(c)[1:]], 0)) for c in context
        ]
        kwargs = dict(zip(condition[:1], context, strict=True))
        return {"samples": model.sample(num_samples, temperature, **kwargs)}

    archive.add_endpoint(
        "log_prob",
        serve_log_prob,
        input_signature=[
            tf.TensorSpec([None, *model.event_shape], dtype, name="x"),
            *condition_specs,
        ],
    )
    archive.add_endpoint(
        "sample",
        serve_sample,
        input_signature=[
            tf.TensorSpec([], tf.int32, name="num_samples"),
            tf.TensorSpec([], dtype, name="temperature"),
            *condition_specs,
        ],
    )
    archive.write_out(filepath, verbose=bool(verbose))
    return archive
