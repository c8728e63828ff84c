"""Dataset registry: names, shapes, levels, recipes, and the unknown-name error."""

import pytest

import tfp_realnvp.data as data

EXPECTED = {
    "digits": ((8, 8, 1), 17, "test", False),
    "mnist": ((28, 28, 1), 256, "test", False),
    "fashion_mnist": ((28, 28, 1), 256, "test", False),
    "cifar10": ((32, 32, 3), 256, "test", True),
    "celeb_a": ((64, 64, 3), 256, "validation", True),
    "downsampled_imagenet/32x32": ((32, 32, 3), 256, "validation", False),
    "downsampled_imagenet/64x64": ((64, 64, 3), 256, "validation", False),
    "lsun/bedroom": ((64, 64, 3), 256, "validation", True),
    "lsun/tower": ((64, 64, 3), 256, "validation", True),
    "lsun/church_outdoor": ((64, 64, 3), 256, "validation", True),
}


def test_names_are_exactly_the_supported_datasets():
    assert data.dataset_names() == tuple(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shape_bins_split_and_flips(name):
    shape, bins, eval_split, flips = EXPECTED[name]
    info = data.dataset_info(name)
    assert data.image_shape(name) == shape == info.image_shape
    assert data.num_bins(name) == bins == info.num_bins
    assert info.eval_split == eval_split
    assert info.train_split == "train"
    assert info.horizontal_flip is flips
    assert info.num_dims == shape[0] * shape[1] * shape[2]


def test_lsun_recipe_crops_64_after_resizing():
    for name in ("lsun/bedroom", "lsun/tower", "lsun/church_outdoor"):
        assert data.dataset_info(name).crop_size == 64
        assert data.dataset_info(name).tfds_name == name


@pytest.mark.parametrize("bad", ["mnistt", "MNIST", "lsun", "", None, 3])
@pytest.mark.parametrize(
    "function", [data.dataset_info, data.image_shape, data.num_bins], ids=lambda f: f.__name__
)
def test_unknown_name_lists_valid_names(function, bad):
    with pytest.raises(ValueError, match=r"`source` must be one of digits, mnist, .*; got ") as err:
        function(bad)
    assert repr(bad) in str(err.value)
    assert "lsun/church_outdoor" in str(err.value)


def test_load_rejects_unknown_name_before_touching_data():
    with pytest.raises(ValueError, match=r"`source` must be one of .*; got 'imagenet'"):
        data.load("imagenet", split="train", batch_size=8)
