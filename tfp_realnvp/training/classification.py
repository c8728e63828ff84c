"""A class-conditional flow as a classifier: its accuracy on labelled batches."""

import tensorflow as tf


def classification_accuracy(model, batches, max_images=None):
    """How often argmax_y p(y | x) (`model.classify`, Bayes' rule with a uniform prior) is the
    true label.

    Each image costs one `log_prob` per class (K * B images through the flow per batch), so
    `max_images` can bound the work on a large split.

    Args:
      model: a class-conditional `RealNVPModel` (`num_classes` set).
      batches: `(images, labels)` batches, e.g. `tfp_realnvp.data.load(..., with_labels=True)`
        (integer labels [B]).
      max_images: None for every image, or classify only the first this many.

    Returns:
      (accuracy in [0, 1], the number of images classified).

    Raises:
      ValueError: the model is not class-conditional, or `max_images` is not positive.
    """
    if model.num_classes is None:
        raise ValueError(
            "`model` must be class-conditional, RealNVPModel(flow, num_classes=K); got a model "
            "with num_classes=None."
        )
    if max_images is not None and (
        isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1
    ):
        raise ValueError(f"`max_images` must be None or a positive integer; got {max_images!r}.")

    @tf.function(reduce_retracing=True)  # one graph for the K-fold batched log_prob
    def correct_count(images, labels):
        predicted = tf.argmax(model.classify(images), axis=-1, output_type=tf.int64)
        return tf.reduce_sum(tf.cast(predicted == tf.cast(labels, tf.int64), tf.int64))

    correct = seen = 0
    for images, labels in batches:
        if max_images is not None:
            images, labels = images[: max_images - seen], labels[: max_images - seen]
        correct += int(correct_count(images, labels))
        seen += int(tf.shape(labels)[0])
        if max_images is not None and seen >= max_images:
            break
    if seen == 0:
        raise ValueError("`batches` holds no images.")
    return correct / seen, seen
