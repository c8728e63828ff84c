"""The context c of a conditional flow p(x | c): checked, cast and given the images' batch shape."""

import tensorflow as tf

from tfp_realnvp.networks.context_projection import describe_value


def checked_context(conditional_input, images, conditional_shape, arg_name, flow):
    """The context of `images` [..., H, W, C] for `flow` (its name, dtype, `validate_args`).

    None for an unconditional flow (`conditional_shape` None), which refuses a context; else
    c [..., *conditional_shape] as a float tensor of the flow's dtype with the batch shape of
    `images` (one context without batch axes is broadcast to every image). Errors name
    `conditional_input` and what it was.
    """
    shape = conditional_shape
    if shape is None:
        if conditional_input is not None:
            raise ValueError(
                f"{flow.name}: this flow is unconditional (conditional_shape=None), so "
                "`conditional_input` must be None; got conditional_input="
                f"{describe_value(conditional_input)}. Build it with "
                "RealNVPMultiScale(..., conditional_shape=[...]) to condition it."
            )
        return None
    if conditional_input is None:
        raise ValueError(
            f"{flow.name}: this flow is conditional (conditional_shape={shape}), so "
            f"`conditional_input` must be a context of shape [..., {_dims(shape)}]: "
            f"{'inverse' if arg_name == 'x' else 'forward'}({arg_name}, conditional_input=c) "
            "or bijector_kwargs={'conditional_input': c}; got conditional_input=None."
        )
    context = tf.convert_to_tensor(conditional_input)
    if not context.dtype.is_floating:
        raise ValueError(
            f"{flow.name}: `conditional_input` must be a float tensor (class labels as "
            f"one-hot vectors, tf.one_hot(labels, K)); got conditional_input="
            f"{describe_value(context)}."
        )
    context = tf.cast(context, flow.dtype)
    rank = context.shape.rank
    event_rank = len(shape)
    if rank is None or rank < event_rank or context.shape[rank - event_rank :] != shape:
        raise ValueError(
            f"{flow.name}: `conditional_input` must have shape [..., {_dims(shape)}] "
            f"(conditional_shape={shape}); got conditional_input={describe_value(context)}."
        )
    batch_shape = images.shape[:-3]
    if rank == event_rank:  # one context for every image
        context = tf.broadcast_to(context, tf.concat([tf.shape(images)[:-3], shape], 0))
        return tf.ensure_shape(context, batch_shape.concatenate(shape))
    if not context.shape[: rank - event_rank].is_compatible_with(batch_shape):
        raise ValueError(
            f"{flow.name}: `conditional_input` must have the batch shape of `{arg_name}`, "
            f"{batch_shape.as_list()} (or none: one context for all); got "
            f"conditional_input={describe_value(context)} for {arg_name} of shape "
            f"{images.shape.as_list()}."
        )
    if flow.validate_args:
        check = tf.debugging.assert_equal(
            tf.shape(context)[: rank - event_rank],
            tf.shape(images)[:-3],
            message=f"`conditional_input` must have the batch shape of `{arg_name}`",
        )
        with tf.control_dependencies([check]):
            context = tf.identity(context)
    return context


def _dims(shape):
    return ", ".join(str(d) for d in shape)
