#!/usr/bin/env python3
"""Downloads MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 into lrm's data-folder layout.

Run on a machine with internet access:

    python3 tools/fetch_datasets.py --root data                 # all four data sets
    python3 tools/fetch_datasets.py --root data mnist cifar-10  # only some

Every downloaded file is checked against its published MD5 before anything is unpacked; a
mismatch deletes the download and stops. The layout written is the one `LRMDatasets`
reads (and `DataFolder` documents):

    <root>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <root>/fashion-mnist/   (same names)
    <root>/cifar-10/{data_batch_1..5.bin, test_batch.bin, batches.meta.txt}
    <root>/cifar-100/{train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt}
    <root>/SHA256SUMS      (sha256sum format, every data file under <root>)

The download step is separate from the unpack/verify steps (`install_idx_files`,
`unpack_cifar`, `write_sha256sums`), which take their expected checksums as arguments so that
`tools/test_fetch_datasets.py` can run them on small local archives without any network.
"""
import argparse
import gzip
import hashlib
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import urllib.request

MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
# As published by Zalando Research (and used by torchvision).
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

# CIFAR binary archives from Alex Krizhevsky's page: URL, MD5, folder inside the archive, the
# files to keep, and the record size that every .bin file must be a multiple of.
CIFAR = {
    "cifar-10": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "md5": "c32a1d4ab5d03f1284b67883e8d87530",
        "folder": "cifar-10-batches-bin",
        "files": ["data_batch_%d.bin" % n for n in range(1, 6)] + ["test_batch.bin", "batches.meta.txt"],
        "record_bytes": 3073,
    },
    "cifar-100": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        "md5": "03b5dce01913d631647c71ecec9e9cb8",
        "folder": "cifar-100-binary",
        "files": ["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"],
        "record_bytes": 3074,
    },
}
DATASETS = ["mnist", "fashion-mnist", "cifar-10", "cifar-100"]


class FetchError(Exception):
    """A download, checksum or archive problem; the message names the file."""


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path, expected):
    """Raises FetchError unless the file's MD5 is `expected`."""
    actual = file_digest(path, "md5")
    if actual != expected.lower():
        raise FetchError("%s: MD5 is %s, expected %s (corrupt or wrong download)" % (path, actual, expected))


def download(urls, destination, expected_md5, opener=urllib.request.urlopen):
    """Tries each URL in turn until one gives a file with the expected MD5."""
    errors = []
    for url in urls:
        partial = destination + ".part"
        try:
            with opener(url, timeout=60) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            verify_md5(partial, expected_md5)
            os.replace(partial, destination)
            return destination
        except (OSError, FetchError) as error:
            errors.append("%s: %s" % (url, error))
            if os.path.exists(partial):
                os.remove(partial)
    raise FetchError("could not download %s:\n  %s" % (os.path.basename(destination), "\n  ".join(errors)))


def check_idx_gzip(path):
    """Decompresses an IDX .gz file and checks its magic number and size against its header."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise FetchError("%s: not a valid gzip file (%s)" % (path, error))
    if len(data) < 8:
        raise FetchError("%s: too short for an IDX header" % path)
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x00000801:
        expected = 8 + count
    elif magic == 0x00000803 and len(data) >= 16:
        rows, columns = struct.unpack(">II", data[8:16])
        expected = 16 + count * rows * columns
    else:
        raise FetchError("%s: IDX magic number 0x%08x, expected 0x00000801 or 0x00000803" % (path, magic))
    if len(data) != expected:
        raise FetchError("%s: %d bytes after decompression, the header implies %d" % (path, len(data), expected))
    return count


def install_idx_files(sources, root, name, expected_md5):
    """Checks downloaded IDX .gz files (`sources`: file name -> path) and copies them to
    <root>/<name>/. Every file named in `expected_md5` must be given and match."""
    target = os.path.join(root, name)
    for file_name, md5 in expected_md5.items():
        if file_name not in sources:
            raise FetchError("%s: %s is missing" % (name, file_name))
        verify_md5(sources[file_name], md5)
        check_idx_gzip(sources[file_name])
    os.makedirs(target, exist_ok=True)
    for file_name in expected_md5:
        shutil.copyfile(sources[file_name], os.path.join(target, file_name))
    return target


def unpack_cifar(archive, root, name, expected_md5=None, spec=None):
    """Verifies a CIFAR binary .tar.gz and extracts the expected files into <root>/<name>/.

    Only regular files named in the spec are extracted, by base name (no paths from the
    archive are used, so nothing can be written outside the target folder). Each .bin file
    must be a non-empty whole number of records.
    """
    spec = spec or CIFAR[name]
    verify_md5(archive, expected_md5 or spec["md5"])
    target = os.path.join(root, name)
    staging = tempfile.mkdtemp(prefix=".unpack-", dir=root)
    try:
        found = set()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    folder, _, base = member.name.rpartition("/")
                    folder = folder[2:] if folder.startswith("./") else folder
                    if not member.isfile() or base not in spec["files"] or folder != spec["folder"]:
                        continue
                    source = tar.extractfile(member)
                    with open(os.path.join(staging, base), "wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
                    found.add(base)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise FetchError("%s: cannot read the archive (%s)" % (archive, error))
        missing = [f for f in spec["files"] if f not in found]
        if missing:
            raise FetchError("%s: missing from %s/: %s" % (archive, spec["folder"], ", ".join(missing)))
        for base in found:
            if base.endswith(".bin"):
                size = os.path.getsize(os.path.join(staging, base))
                if size == 0 or size % spec["record_bytes"]:
                    raise FetchError("%s: %s has %d bytes, not a whole number of %d-byte records"
                                     % (archive, base, size, spec["record_bytes"]))
        os.makedirs(target, exist_ok=True)
        for base in found:
            os.replace(os.path.join(staging, base), os.path.join(target, base))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def write_sha256sums(root):
    """Writes <root>/SHA256SUMS for every file in the data set folders, sorted by path."""
    lines = []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder) or name.startswith("."):
            continue
        for base in sorted(os.listdir(folder)):
            path = os.path.join(folder, base)
            if os.path.isfile(path) and not base.startswith("."):
                lines.append("%s  %s/%s\n" % (file_digest(path, "sha256"), name, base))
    with open(os.path.join(root, "SHA256SUMS"), "w") as out:
        out.writelines(lines)
    return len(lines)


def fetch(name, root, cache):
    if name in ("mnist", "fashion-mnist"):
        mirrors, md5s = (MNIST_MIRRORS, MNIST_MD5) if name == "mnist" else (FASHION_MNIST_MIRRORS, FASHION_MNIST_MD5)
        sources = {}
        for file_name, md5 in md5s.items():
            path = os.path.join(cache, name + "-" + file_name)
            if not (os.path.exists(path) and file_digest(path, "md5") == md5):
                download([m + file_name for m in mirrors], path, md5)
            sources[file_name] = path
        return install_idx_files(sources, root, name, md5s)
    spec = CIFAR[name]
    archive = os.path.join(cache, os.path.basename(spec["url"]))
    if not (os.path.exists(archive) and file_digest(archive, "md5") == spec["md5"]):
        download([spec["url"]], archive, spec["md5"])
    return unpack_cifar(archive, root, name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", metavar="DATASET",
                        help="which data sets, of %s (default: all)" % ", ".join(DATASETS))
    parser.add_argument("--root", default="data", help="the data folder to fill (default: data)")
    parser.add_argument("--cache", help="where downloads are kept (default: <root>/.downloads)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.datasets if name not in DATASETS]
    if unknown:
        parser.error("unknown data set %s; expected one of %s" % (", ".join(unknown), ", ".join(DATASETS)))
    names = args.datasets or DATASETS
    os.makedirs(args.root, exist_ok=True)
    cache = args.cache or os.path.join(args.root, ".downloads")
    os.makedirs(cache, exist_ok=True)
    try:
        for name in names:
            print("%s: %s" % (name, fetch(name, args.root, cache)))
    except FetchError as error:
        print("fetch_datasets: %s" % error, file=sys.stderr)
        return 1
    print("SHA256SUMS: %d files" % write_sha256sums(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
