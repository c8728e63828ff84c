"""``load`` on a folder of PNG images: splits, labels from sub-folders, resizing, and the
one-line errors for an unreadable image, mixed sizes and an empty folder."""

import numpy as np
import pytest
from PIL import Image

import tfp_realnvp.data as data
from tests.image_sources import CLASSES, class_images, collect_pairs, write_png_folder
from tfp_realnvp.data.sources import held_out_split


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs")
    images, labels = write_png_folder(folder, count=30)
    return folder, images, labels


def load_in_order(source, split, **options):
    return collect_pairs(
        data.load(
            source, split=split, batch_size=7, noise_seed=0, training=False, with_labels=True,
            **options,
        )
    )  # fmt: skip


def test_folder_splits_hold_out_a_fixed_tenth_with_labels_from_sub_folders(png_folder):
    folder, images, labels = png_folder
    info = data.dataset_info(folder)
    assert info.image_shape == (8, 8, 3) and info.num_bins == 256
    assert info.label_shape == () and info.num_classes == 2
    train_x, train_y = load_in_order(folder, "train")
    test_x, test_y = load_in_order(folder, "test")
    assert len(train_x) == 27 and len(test_x) == 3
    train_index, test_index = held_out_split(30)
    np.testing.assert_array_equal(np.floor(train_x * 256).astype(np.uint8), images[train_index])
    np.testing.assert_array_equal(np.floor(test_x * 256).astype(np.uint8), images[test_index])
    np.testing.assert_array_equal(train_y, labels[train_index])
    np.testing.assert_array_equal(test_y, labels[test_index])
    # The label is the sub-folder: class 1 (squares) pixels are >= 128.
    assert CLASSES == ("circles", "squares")
    np.testing.assert_array_equal((train_x.min(axis=(1, 2, 3)) >= 0.5).astype(int), train_y)


def test_held_out_split_is_fixed_disjoint_and_complete():
    train, test = held_out_split(30)
    again_train, again_test = held_out_split(30)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert sorted([*train, *test]) == list(range(30)) and len(test) == 3
    assert held_out_split(5)[1].size == 1  # at least one image held out
    with pytest.raises(ValueError, match=r"at least 2 images .*; got 1"):
        held_out_split(1)


def test_grey_folder_without_classes_has_one_channel_and_no_labels(tmp_path):
    for index in range(4):
        Image.fromarray(np.full((6, 4), 40 * index, np.uint8), mode="L").save(
            tmp_path / f"{index}.png"
        )
    info = data.dataset_info(tmp_path)
    assert info.image_shape == (6, 4, 1) and info.label_shape is None
    x = np.concatenate(list(data.load(tmp_path, split="train", batch_size=8, noise_seed=0)))
    assert x.shape == (3, 6, 4, 1)
    with pytest.raises(ValueError, match=r"`with_labels` is True but .* has no labels"):
        data.load(tmp_path, split="train", batch_size=8, with_labels=True)


def test_image_size_centre_crops_to_the_aspect_then_resizes(tmp_path):
    # 8x12 images whose central 8x8 window is 200 and whose side columns are 0.
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, 2:10] = 200
    for index in range(3):
        Image.fromarray(image).save(tmp_path / f"{index}.png")
    x = np.concatenate(
        list(data.load(tmp_path, split="train", batch_size=8, image_size=4, noise_seed=0))
    )
    assert x.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(np.floor(x * 256), 200.0)


def test_mixed_sizes_need_image_size_and_name_the_files(tmp_path):
    images, _ = class_images(3, side=8)
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    Image.fromarray(images[1]).save(tmp_path / "b.png")
    Image.fromarray(images[2][:, :6]).save(tmp_path / "c.png")
    with pytest.raises(ValueError) as err:
        data.load(tmp_path, split="train", batch_size=2)
    assert str(err.value) == (
        f"`source` folder images differ in size: '{tmp_path}/c.png' is 8x6 but "
        f"'{tmp_path}/a.png' is 8x8; pass `image_size` to resize them all to one size."
    )
    x = np.concatenate(list(data.load(tmp_path, split="train", batch_size=2, image_size=(4, 4))))
    assert x.shape == (2, 4, 4, 3)


def test_unreadable_image_is_named_in_one_line(tmp_path):
    images, _ = class_images(3)
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{index}.png")
    good = (tmp_path / "1.png").read_bytes()
    (tmp_path / "1.png").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))  # a header, then zeros
    with pytest.raises(ValueError) as err:
        data.dataset_info(tmp_path)
    message = str(err.value)
    assert message.startswith(f"`source` image '{tmp_path}/1.png' cannot be read: ")
    assert "\n" not in message


def test_empty_folder_and_missing_path_say_so(tmp_path):
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(data.DatasetNotAvailableError) as err:
        data.load(tmp_path, split="train", batch_size=2)
    assert str(err.value) == (
        f"`source` folder '{tmp_path}' holds no PNG or JPEG images (looked in it and in its "
        "sub-folders)."
    )
    with pytest.raises(data.DatasetNotAvailableError, match=r"no such file or folder \(looked f"):
        data.load(str(tmp_path / "nowhere"), split="train", batch_size=2)


def test_images_beside_class_folders_are_refused(tmp_path):
    images, _ = class_images(2)
    (tmp_path / "cats").mkdir()
    Image.fromarray(images[0]).save(tmp_path / "cats" / "0.png")
    Image.fromarray(images[1]).save(tmp_path / "stray.png")
    with pytest.raises(ValueError, match=r"images directly or in one sub-folder per class, not b"):
        data.load(tmp_path, split="train", batch_size=2)


def test_jpeg_files_are_read_as_well(tmp_path):
    images, _ = class_images(4)
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{index}.{('jpg', 'JPEG')[index % 2]}", quality=95)
    info = data.dataset_info(tmp_path)
    assert info.image_shape == (8, 8, 3)
    x = np.concatenate(
        list(data.load(tmp_path, split="train", batch_size=8, noise_seed=0, training=False))
    )
    assert x.shape == (3, 8, 8, 3)
    decoded = np.stack([np.asarray(Image.open(p)) for p in sorted(tmp_path.iterdir())])
    # TensorFlow's and PIL's JPEG decoders (chroma upsampling) differ by a few levels.
    assert np.abs(np.floor(x * 256) - decoded[held_out_split(4)[0]]).max() <= 8
