# Generated from chapters/14_training_further.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/14_training_further.md, cell 16 ---
"""Fashion-MNIST from its four IDX files, offline, and `load_dataset`: digits or Fashion-MNIST.

The files come from Debian's `dataset-fashion-mnist` (or the official download); nothing is
fetched at run time. Shapes: N images, C = 1 channel, 28 x 28 pixels, K = 10 classes.
"""

import gzip
from pathlib import Path

import numpy as np
import torch

from vit_lib.data import DataSplits, Split, load_digits, stratified_split

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["load_fashion_mnist", "load_dataset"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # where the Debian package puts it
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# --- chapters/14_training_further.md, cell 18 ---
def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or not, into a numpy array.

    The header is two zero bytes, a type code (0x08 = unsigned byte, ...), the number of
    dimensions, then each dimension as a big-endian 32-bit integer; the data follow.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":                                  # the gzip magic number
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path.name}: not an IDX file (it must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"{path.name}: unknown IDX type code 0x{code:02x}; "
                         f"expected one of {known}")
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path.name}: header says shape {dims} ({expected} bytes of data), "
                         f"but the file holds {len(raw) - header} bytes after the header")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))                 # native byte order, a fresh array


# --- chapters/14_training_further.md, cell 20 ---
def find_fashion_mnist(root: str | Path = FASHION_MNIST_DIR) -> dict[str, Path]:
    """The paths of the four Fashion-MNIST IDX files in `root` (each may be gzipped or not).

    Raises FileNotFoundError, saying how to get the files, when any is missing.
    """
    root = Path(root)
    found, missing = {}, []
    for key, stem in FASHION_MNIST_FILES.items():
        for candidate in (root / stem, root / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{stem}.gz")
    if missing:
        official = ", ".join(f"{stem}.gz" for stem in FASHION_MNIST_FILES.values())
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {root}: missing {', '.join(missing)}. Get it in one of "
            "two ways: (1) on Debian/Ubuntu, `sudo apt-get install dataset-fashion-mnist` puts "
            f"the files in {FASHION_MNIST_DIR}; (2) download the four official files {official} "
            "from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into one "
            "folder and pass that folder as root=... (the files may be gzipped or not)."
        )
    return found


def load_fashion_mnist(
    root: str | Path = FASHION_MNIST_DIR, val_size: int = 5000, split_seed: int = 0
) -> DataSplits:
    """Fashion-MNIST (28 x 28 grey clothes, 10 classes) from its IDX files in `root`.

    The official 60,000 training images are split by class into train and a validation split
    of `val_size` images; the official 10,000 test images are the test split.

    Args:
        root: folder holding the four IDX files (default: where `dataset-fashion-mnist`
            installs them).
        val_size: images held out of the training set for validation.
        split_seed: seed of the train / val split.
    """
    arrays = {key: read_idx(path) for key, path in find_fashion_mnist(root).items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"Fashion-MNIST {part}: images of shape {images.shape} do not match "
                             f"labels of shape {labels.shape}")

    def to_split(images: np.ndarray, labels: np.ndarray) -> Split:
        x = torch.from_numpy(images).unsqueeze(1).float().div(255.0)   # (N, 1, 28, 28)
        return Split(x, torch.from_numpy(labels.astype(np.int64)))      # labels (N,)

    full = to_split(arrays["train_images"], arrays["train_labels"])
    if not 0 < val_size < len(full):
        raise ValueError(f"val_size must be between 1 and {len(full) - 1}, got {val_size}")
    train, val = stratified_split(full.labels.numpy(), (val_size / len(full),), split_seed)
    test = to_split(arrays["test_images"], arrays["test_labels"])
    return DataSplits("fashion-mnist", full.subset(train), full.subset(val), test,
                      FASHION_MNIST_CLASSES)


def load_dataset(name: str, root: str | Path | None = None) -> DataSplits:
    """`load_digits()` for 'digits', `load_fashion_mnist(root)` for 'fashion-mnist'."""
    if name == "digits":
        return load_digits()
    if name == "fashion-mnist":
        return load_fashion_mnist(root if root is not None else FASHION_MNIST_DIR)
    raise ValueError(f"unknown dataset {name!r}; expected 'digits' or 'fashion-mnist'")
