"""How a `RealNVPModel` turns labels or contexts into its flow's context c."""

import tensorflow as tf

from tfp_realnvp.networks.context_projection import describe_value


class Conditioning:
    """The condition of a model's flow: none, class labels (one-hot), or any other context.

    A class-conditional model (`num_classes` K) takes integer labels [B] and gives its flow
    c = one_hot(labels) [B, K]; another conditional flow takes its context c as it is
    (`conditional_input`); an unconditional one refuses both. Batches of a conditional model
    are pairs (images, labels) or (images, contexts).

    Args:
      flow: the model's `RealNVPMultiScale`.
      num_classes: None, or K >= 2 for a flow built with `conditional_shape=[K]`.
    """

    def __init__(self, flow, num_classes):
        self.num_classes = _checked_num_classes(num_classes, flow)
        self.is_conditional = flow.conditional_shape is not None
        self.dtype = flow.dtype

    def one_hot(self, labels):
        """Integer class labels [...] -> the flow's context, one-hot vectors [..., K]."""
        if labels is None:
            raise ValueError(
                f"This model is class-conditional (num_classes={self.num_classes}): `labels` "
                f"must be integer class labels in [0, {self.num_classes}); got labels=None."
            )
        labels = tf.convert_to_tensor(labels)
        if not labels.dtype.is_integer:
            raise ValueError(
                f"`labels` must be integer class labels in [0, {self.num_classes}); got labels "
                f"of dtype {labels.dtype.name} and shape {labels.shape.as_list()}."
            )
        if tf.executing_eagerly() and tf.size(labels) > 0:
            low, high = int(tf.reduce_min(labels)), int(tf.reduce_max(labels))
            if low < 0 or high >= self.num_classes:
                raise ValueError(
                    f"`labels` must be in [0, {self.num_classes}) (num_classes="
                    f"{self.num_classes}); got labels from {low} to {high}."
                )
        return tf.one_hot(labels, self.num_classes, dtype=self.dtype)

    def context(self, labels, conditional_input):
        """The flow's context from `labels` (class-conditional) or `conditional_input` (any
        other conditional flow), or None; the flow checks its shape and refuses a missing one."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "`labels` need a class-conditional model, RealNVPModel(flow, "
                    "num_classes=K); this one has num_classes=None (give a conditional flow "
                    f"its context as `conditional_input`); got labels={labels!r}."
                )
            return conditional_input
        if conditional_input is not None:
            raise ValueError(
                f"A class-conditional model (num_classes={self.num_classes}) takes `labels`, "
                "not `conditional_input`; got conditional_input too."
            )
        return self.one_hot(labels)

    @staticmethod
    def flow_kwargs(context):
        """The flow's keyword arguments for `context` (none for None)."""
        return {} if context is None else {"conditional_input": context}

    def inputs(self, x, labels, conditional_input):
        """The model's inputs: x, or (x, labels or context) for a conditional model."""
        self.context(labels, conditional_input)  # clear errors before the model is called
        if not self.is_conditional:
            return x
        return (x, labels if self.num_classes is not None else conditional_input)

    def split_inputs(self, inputs):
        """(x, context) of the model's inputs; context None for an unconditional model."""
        if not self.is_conditional:
            return inputs, None
        if not (isinstance(inputs, (tuple, list)) and len(inputs) == 2):
            what = "(images, labels)" if self.num_classes is not None else "(images, contexts)"
            raise ValueError(
                f"A conditional model's inputs (and `fit`'s batches) are pairs {what}; got "
                f"{describe_value(inputs)}."
            )
        x, condition = inputs
        if self.num_classes is not None:
            return x, self.context(condition, None)
        return x, self.context(None, condition)

    def as_inputs_only(self, data):
        """A conditional model's `(images, labels)` batch as Keras's inputs-only batch."""
        if self.is_conditional and isinstance(data, (tuple, list)) and len(data) == 2:
            return (tuple(data),)
        return data


def _checked_num_classes(num_classes, flow):
    """`num_classes` (None or an int >= 2 matching the flow's one-hot context), or ValueError."""
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"`num_classes` must be None or an integer >= 2; got num_classes={num_classes!r}."
        )
    if flow.conditional_shape != [num_classes]:
        raise ValueError(
            f"`num_classes` needs a flow conditioned on one-hot labels, RealNVPMultiScale(..., "
            f"conditional_shape=[{num_classes}]); got num_classes={num_classes} for a flow with "
            f"conditional_shape={flow.conditional_shape}."
        )
    return num_classes
