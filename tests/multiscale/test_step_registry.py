"""Steps as objects as well as names: couplings, normalizations and channel mixings are
registered kinds; a new kind needs no edit of the flow, and saved configurations find it."""

import numpy as np
import pytest
import tensorflow as tf

import tfp_realnvp
from tfp_realnvp.multiscale import (
    CouplingKind,
    register_channel_mixing,
    register_coupling,
    register_normalization,
)

SMALL = dict(num_scales=2, num_res_blocks=0, num_filters=2)


class ShiftOnlyCoupling(tfp_realnvp.MaskedAdditiveCoupling):
    """A coupling class of a user's, not registered."""


def kinds_of_steps(flow):
    return {type(step).__name__ for step in flow._flow._flatten() if hasattr(step, "forward")}


@register_coupling("halved_affine", params_per_unit=2)
def halved_affine(keep_mask, conditioner, options, *, dtype, name):
    """A registered factory: the paper's coupling, built by a user's function."""
    return tfp_realnvp.MaskedAffineCoupling(keep_mask, conditioner, dtype=dtype, name=name)


register_normalization("user_act_norm", tfp_realnvp.ActNorm)
register_channel_mixing("user_1x1", tfp_realnvp.InvertibleConv1x1)


def test_a_registered_coupling_is_built_and_round_trips_by_name():
    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], coupling="halved_affine", **SMALL)
    assert "MaskedAffineCoupling" in kinds_of_steps(flow)
    config = tfp_realnvp.RealNVPModel(flow).get_config()
    assert config["flow"]["coupling"] == "halved_affine"
    again = tfp_realnvp.RealNVPModel.from_config(config)
    assert again.flow.get_config() == flow.get_config()
    images = np.random.default_rng(0).uniform(size=[2, 4, 4, 1]).astype("float32")
    assert np.all(np.isfinite(again.log_prob(images)))


@pytest.mark.parametrize(
    "argument, by_class, by_name",
    [
        ("coupling", tfp_realnvp.MaskedAdditiveCoupling, "additive"),
        ("normalization", tfp_realnvp.ActNorm, "act_norm"),
        ("channel_mixing", tfp_realnvp.InvertibleConv1x1, "invertible_1x1"),
    ],
)
def test_a_registered_class_is_the_same_flow_as_its_name(argument, by_class, by_name):
    one = tfp_realnvp.RealNVPMultiScale([4, 4, 1], **{argument: by_class}, **SMALL)
    other = tfp_realnvp.RealNVPMultiScale([4, 4, 1], **{argument: by_name}, **SMALL)
    assert one.get_config() == other.get_config()
    assert [v.name for v in one.variables] == [v.name for v in other.variables]
    assert one.get_config()[argument] == by_name


def test_classes_registered_by_users_are_saved_under_their_names():
    flow = tfp_realnvp.RealNVPMultiScale(
        [4, 4, 1], normalization=tfp_realnvp.ActNorm, channel_mixing="user_1x1", **SMALL
    )
    config = flow.get_config()
    assert config["channel_mixing"] == "user_1x1"
    # ActNorm is registered twice (act_norm, user_act_norm): either name rebuilds it.
    assert config["normalization"] in ("act_norm", "user_act_norm")
    assert tfp_realnvp.RealNVPMultiScale.from_config(config).get_config() == config


def test_an_unregistered_class_builds_but_cannot_be_saved():
    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], coupling=ShiftOnlyCoupling, **SMALL)
    assert "ShiftOnlyCoupling" in kinds_of_steps(flow)
    z = flow.inverse(tf.random.uniform([2, 4, 4, 1]))
    assert z.shape == [2, 4, 4, 1]
    with pytest.raises(ValueError, match=r"`coupling`=.*ShiftOnlyCoupling.* is not registered"):
        flow.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(coupling=3), r"`coupling` must be a registered name, a CouplingKind .*coupling=3"),
        (dict(coupling=tfp_realnvp.ActNorm), r"A coupling class must be a MaskedCoupling"),
        (dict(normalization="bn"), r"`normalization` must be one of .*normalization='bn'"),
        (dict(channel_mixing=1.5), r"`channel_mixing` must be .*channel_mixing=1.5"),
    ],
)
def test_wrong_kinds_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfp_realnvp.RealNVPMultiScale([4, 4, 1], **kwargs, **SMALL)


def test_a_kind_object_is_accepted_as_it_is():
    def build(keep_mask, conditioner, options, *, dtype, name):
        return tfp_realnvp.MaskedAffineCoupling(keep_mask, conditioner, dtype=dtype, name=name)

    kind = CouplingKind(build=build, params_per_unit=2)
    flow = tfp_realnvp.RealNVPMultiScale([4, 4, 1], coupling=kind, **SMALL)
    assert "MaskedAffineCoupling" in kinds_of_steps(flow)
    with pytest.raises(ValueError, match=r"not registered"):
        flow.get_config()
    register_coupling("kind_object", kind)
    assert flow.get_config()["coupling"] == "kind_object"
