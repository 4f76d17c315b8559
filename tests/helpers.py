"""Builders of small datasets in their official on-disk formats, for tests."""
import gzip
import io
import pickle
import tarfile

import numpy as np


def cifar_batch(images, labels):
    """The bytes of one official CIFAR-10 batch: a protocol-2 pickle with byte keys
    (as Python 2 wrote it), data rows of 3072 bytes holding the R, G, B planes."""
    images = np.asarray(images, np.uint8)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"batch_label": b"test batch", b"labels": [int(y) for y in labels],
             b"data": rows, b"filenames": [f"{i}.png".encode() for i in range(len(images))]}
    return pickle.dumps(batch, protocol=2)


def cifar_members(train_images, train_labels, test_images, test_labels):
    """{file name: bytes} of cifar-10-batches-py/: the train set over five batches."""
    members = {}
    parts = zip(np.array_split(train_images, 5), np.array_split(train_labels, 5))
    for i, (x, y) in enumerate(parts, 1):
        members[f"data_batch_{i}"] = cifar_batch(x, y)
    members["test_batch"] = cifar_batch(test_images, test_labels)
    members["batches.meta"] = pickle.dumps(
        {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog",
                          b"frog", b"horse", b"ship", b"truck"], b"num_vis": 3072}, protocol=2)
    return members


def write_cifar_archive(path, members):
    """A cifar-10-python.tar.gz-style archive holding cifar-10-batches-py/<member>."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_cifar_folder(folder, members):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    return folder


def read_idx(path, count=None):
    """An idx .gz file as an array; only its first `count` items if given."""
    with gzip.open(path) as f:
        head = f.read(4)
        ndim = head[3]
        shape = [int.from_bytes(f.read(4), "big") for _ in range(ndim)]
        if count is not None:
            shape[0] = min(count, shape[0])
        raw = f.read(int(np.prod(shape)))
    return np.frombuffer(raw, np.uint8).reshape(shape)


def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())
    return path


def write_fashion_subset(folder, source, n_train, n_test):
    """The first n_train / n_test real Fashion-MNIST images of `source`, in its idx .gz format."""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            write_idx(folder / name, read_idx(source / name, count=n))
    return folder


def write_history(folder, val_acc, seconds):
    """A history.csv as the trainer writes it, with the given val accuracies."""
    import csv
    with open(folder / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"])
        for epoch, acc in enumerate(val_acc, 1):
            writer.writerow([epoch, 1.0, acc, 1.0, acc, 0.01, seconds])
