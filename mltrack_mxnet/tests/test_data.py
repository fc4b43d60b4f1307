"""MXNet's data objects described as datasets: no names, row counts or fingerprints typed by hand."""

from __future__ import annotations

import hashlib
import struct
import zlib

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from sklearn.datasets import load_digits

import mltrack_core as mt
from mltrack_mxnet.demo import array_fingerprint


def statistics_of(dataset):
    return {(statistic.name, statistic.columns): statistic.value for statistic in dataset.statistics}


def test_an_ndarray_iterator_is_the_dataset_users_typed_by_hand(tracker, digits):
    typed = digits.track(tracker, "train")  # name, fingerprint, row count and target typed by hand (conftest)

    described = tracker.track_dataset(digits.iterator("train", batch_size=40, image=True), name="digits-train")

    assert (described.name, described.row_count, described.fingerprint) == (
        typed.name,
        typed.row_count,
        array_fingerprint(
            digits.features[digits.rows["train"]].reshape((-1, 1, 8, 8)), digits.labels[digits.rows["train"]]
        ),
    )
    assert described.target == "softmax_label"
    assert [(column.name, column.typing) for column in described.schema] == [
        ("data", mt.TypeHint.FLOAT),
        ("softmax_label", mt.TypeHint.FLOAT),
    ]
    assert statistics_of(described) == {
        ("sample_shape", ("data",)): (1, 8, 8),
        ("sample_shape", ("softmax_label",)): (),
        ("batch_shape", ("data",)): (40, 1, 8, 8),
        ("batch_shape", ("softmax_label",)): (40,),
    }
    assert described.annotations["mxnet.batch_size"] == "40"
    flat = tracker.track_dataset(digits.iterator("train"))
    assert flat.fingerprint == typed.fingerprint  # the same arrays as conftest's hand-made digest


def test_a_shuffling_iterator_has_the_same_fingerprint_whatever_the_order(tracker, digits):
    iterator = digits.iterator("train", shuffle=True)
    first = tracker.track_dataset(iterator).fingerprint
    iterator.reset()  # MXNet reorders its arrays at every reset

    assert tracker.track_dataset(iterator).fingerprint == first
    other = tracker.track_dataset(digits.iterator("validation", shuffle=True)).fingerprint
    assert first.startswith("rowset-sha256:") and other != first


def gluon_dataset(digits, part="train"):
    rows = digits.rows[part]
    return gluon.data.ArrayDataset(mx.nd.array(digits.features[rows]), mx.nd.array(digits.labels[rows]))


def test_a_data_loader_is_its_dataset_with_its_batch_shape(tracker, digits):
    loader = gluon.data.DataLoader(gluon_dataset(digits), batch_size=50, shuffle=True)

    described = tracker.track_dataset(loader)

    rows = digits.rows["train"]
    assert (described.name, described.row_count, described.target) == ("ArrayDataset", len(rows), "label")
    assert described.fingerprint == array_fingerprint(digits.features[rows], digits.labels[rows])
    assert statistics_of(described) == {
        ("sample_shape", ("data",)): (64,),
        ("sample_shape", ("label",)): (),
        ("batch_shape", ("data",)): (50, 64),
        ("batch_shape", ("label",)): (50,),
    }
    assert (described.annotations["mxnet.batch_size"], described.annotations["mxnet.shuffle"]) == ("50", "true")


def test_a_transformed_dataset_is_derived_from_the_dataset_it_transforms(tracker, digits):
    def as_image(features):
        return features.reshape((1, 8, 8))

    source = gluon_dataset(digits, "validation")

    described = tracker.track_dataset(source.transform_first(as_image), name="digits-images")

    base = tracker.get(described.derived_from[0])
    assert base.fingerprint == tracker.track_dataset(source).fingerprint
    assert described.derivation.startswith("transform_first(") and "as_image" in described.derivation
    assert described.fingerprint is None and described.row_count == 200
    assert statistics_of(described)[("sample_shape", ("data",))] == (1, 8, 8)


def test_a_simple_dataset_of_samples_is_fingerprinted_from_its_samples(tracker, digits):
    samples = [(digits.features[row], int(digits.labels[row])) for row in digits.rows["test"]]

    described = tracker.track_dataset(gluon.data.SimpleDataset(samples))
    reordered = tracker.track_dataset(gluon.data.SimpleDataset(samples[::-1]))

    assert (described.row_count, described.target) == (200, "label")
    assert described.fingerprint is not None and reordered.fingerprint != described.fingerprint
    assert statistics_of(described)[("sample_shape", ("data",))] == (64,)
    assert [column.typing for column in described.schema] == [mt.TypeHint.FLOAT, mt.TypeHint.LONG]


def test_a_transformed_loader_of_numpy_doubles_is_described(tracker, digits):
    rows = digits.rows["test"]
    images = load_digits().images[rows]  # float64, as the Gluon MNIST example's numpy data may be
    dataset = gluon.data.ArrayDataset(images, digits.labels[rows]).transform(lambda image, label: (image / 16, label))

    described = tracker.track_dataset(gluon.data.DataLoader(dataset, batch_size=20))

    assert [column.typing for column in described.schema] == [mt.TypeHint.DOUBLE, mt.TypeHint.FLOAT]
    assert statistics_of(described)[("batch_shape", ("data",))] == (20, 8, 8)
    assert tracker.get(described.derived_from[0]).row_count == 200


def test_a_dataset_of_ones_own_records_its_size_and_sample_shape_without_reading_every_sample(tracker):
    class Squares(gluon.data.Dataset):
        reads = 0

        def __getitem__(self, index):
            Squares.reads += 1
            return mx.nd.full((2, 3), index), index * index

        def __len__(self):
            return 1000

    described = tracker.track_dataset(Squares())

    assert (described.name, described.row_count, described.target, described.fingerprint) == (
        "Squares",
        1000,
        "label",
        None,
    )
    assert statistics_of(described)[("sample_shape", ("data",))] == (2, 3)
    assert Squares.reads == 1
    assert described.annotations["mxnet.fingerprint"] == "not computed: Squares computes its samples when read"


def png(pixels):
    """A minimal PNG file of an (height, width, 3) uint8 array (no image library in the test environment)."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def record_file(tmp_path):
    """12 random 8x8 images of 3 classes in a .rec file with its .idx index."""
    records = mx.recordio.MXIndexedRecordIO(str(tmp_path / "images.idx"), str(tmp_path / "images.rec"), "w")
    pixels = np.random.RandomState(0).randint(0, 255, (12, 8, 8, 3)).astype(np.uint8)
    for index in range(12):
        header = mx.recordio.IRHeader(0, float(index % 3), index, 0)
        records.write_idx(index, mx.recordio.pack(header, png(pixels[index])))
    records.close()
    return tmp_path / "images.rec"


def test_an_image_record_iterator_is_its_record_file(tracker, record_file):
    iterator = mx.io.ImageRecordIter(
        path_imgrec=str(record_file),
        path_imgidx=str(record_file.with_suffix(".idx")),
        data_shape=(3, 8, 8),
        batch_size=4,
    )

    described = tracker.track_dataset(iterator)

    assert (described.name, described.location) == ("images.rec", record_file.resolve().as_uri())
    assert described.row_count == 12  # from the index: one line per record
    assert described.target == "softmax_label"
    assert described.fingerprint == f"sha256:{hashlib.sha256(record_file.read_bytes()).hexdigest()}"
    assert statistics_of(described)[("batch_shape", ("data",))] == (4, 3, 8, 8)
    assert described.annotations["mxnet.batch_size"] == "4"
    assert sum(batch.data[0].shape[0] for batch in iterator) == 12  # the iterator still reads every record


def test_an_image_record_dataset_is_its_record_file(tracker, record_file):
    loader = gluon.data.DataLoader(gluon.data.vision.ImageRecordDataset(str(record_file)), batch_size=6)

    described = tracker.track_dataset(loader)

    assert (described.name, described.location, described.row_count) == ("images.rec", record_file.as_uri(), 12)
    assert described.fingerprint == f"sha256:{hashlib.sha256(record_file.read_bytes()).hexdigest()}"
    assert statistics_of(described)[("batch_shape", ("data",))] == (6, 8, 8, 3)


def test_a_model_trained_on_a_described_loader_takes_its_input_shape_from_it(tracker, digits):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(10))
    net.initialize()
    net.hybridize()
    loader = gluon.data.DataLoader(gluon_dataset(digits), batch_size=50)
    for data, _ in loader:
        net(data)  # trained (here: run) before anything was tracked
    train = tracker.track_dataset(loader, name="digits-train")

    model = tracker.track_model(net, trained_on=train)

    values = {p.name: p.value for p in model.hyperparameters}
    assert (values["input_shape.data"], values["batch_size"]) == ((50, 64), 50)
    assert "mltrack.failures" not in model.annotations
