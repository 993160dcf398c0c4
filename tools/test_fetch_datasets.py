#!/usr/bin/env python3
"""Tests of tools/fetch_datasets.py on small archives built here. Never touches the network.

Plain asserts; prints "N passed, M failed" and exits 1 on any failure.
"""
import gzip
import hashlib
import io
import os
import shutil
import struct
import sys
import tarfile
import tempfile
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fetch_datasets as fd  # noqa: E402

SHARED_MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "datasets", "mnist")


def forbidden_network(*args, **kwargs):
    raise AssertionError("a test tried to use the network: %r" % (args,))


urllib.request.urlopen = forbidden_network


def md5(data):
    return hashlib.md5(data).hexdigest()


def idx_images(count, declared=None):
    header = struct.pack(">IIII", 0x803, count if declared is None else declared, 28, 28)
    return header + bytes((i * 7) % 256 for i in range(count * 784))


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    return path


def fake_mnist(directory):
    """Four small .gz files with the official names; returns (paths, md5s)."""
    contents = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx_images(3)),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx_labels([1, 2, 3])),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx_images(2)),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_labels([4, 5])),
    }
    paths = {name: write(os.path.join(directory, "dl", name), data) for name, data in contents.items()}
    return paths, {name: md5(data) for name, data in contents.items()}


def cifar_records(count, record_bytes):
    return bytes((i * 13) % 256 for i in range(count * record_bytes))


def make_tar_gz(path, members):
    """members: archive name -> bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    write(path, buffer.getvalue())
    return md5(buffer.getvalue())


def cifar10_members(**overrides):
    members = {"cifar-10-batches-bin/data_batch_%d.bin" % n: cifar_records(1, 3073) for n in range(1, 6)}
    members["cifar-10-batches-bin/test_batch.bin"] = cifar_records(2, 3073)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    members["cifar-10-batches-bin/readme.html"] = b"<html></html>"
    for name, data in overrides.items():
        key = "cifar-10-batches-bin/" + name
        if data is None:
            members.pop(key)
        else:
            members[key] = data
    return members


def raises(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except fd.FetchError as error:
        return str(error)
    raise AssertionError("expected FetchError from %s" % function.__name__)


# --- tests ---------------------------------------------------------------------------

def test_published_checksums_are_the_official_ones(tmp):
    assert fd.MNIST_MD5 == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    assert fd.CIFAR["cifar-10"]["md5"] == "c32a1d4ab5d03f1284b67883e8d87530"
    assert fd.CIFAR["cifar-100"]["md5"] == "03b5dce01913d631647c71ecec9e9cb8"


def test_mnist_files_install_into_the_layout(tmp):
    paths, md5s = fake_mnist(tmp)
    root = os.path.join(tmp, "data")
    target = fd.install_idx_files(paths, root, "mnist", md5s)
    assert target == os.path.join(root, "mnist")
    assert sorted(os.listdir(target)) == sorted(md5s)
    for name, path in paths.items():
        assert open(os.path.join(target, name), "rb").read() == open(path, "rb").read()


def test_mnist_checksum_mismatch_is_rejected_before_copying(tmp):
    paths, md5s = fake_mnist(tmp)
    md5s["t10k-labels-idx1-ubyte.gz"] = "0" * 32
    root = os.path.join(tmp, "data")
    message = raises(fd.install_idx_files, paths, root, "mnist", md5s)
    assert "t10k-labels-idx1-ubyte.gz" in message and "MD5" in message
    assert not os.path.exists(os.path.join(root, "mnist"))


def test_mnist_inconsistent_idx_header_is_rejected(tmp):
    paths, md5s = fake_mnist(tmp)
    lying = gzip.compress(idx_images(3, declared=4))
    write(paths["train-images-idx3-ubyte.gz"], lying)
    md5s["train-images-idx3-ubyte.gz"] = md5(lying)
    assert "header implies" in raises(fd.install_idx_files, paths, os.path.join(tmp, "data"), "mnist", md5s)


def test_mnist_truncated_gzip_is_rejected(tmp):
    paths, md5s = fake_mnist(tmp)
    cut = gzip.compress(idx_images(3))[:-10]
    write(paths["train-images-idx3-ubyte.gz"], cut)
    md5s["train-images-idx3-ubyte.gz"] = md5(cut)
    assert "gzip" in raises(fd.install_idx_files, paths, os.path.join(tmp, "data"), "mnist", md5s)


def test_mnist_missing_file_is_rejected(tmp):
    paths, md5s = fake_mnist(tmp)
    del paths["train-labels-idx1-ubyte.gz"]
    assert "missing" in raises(fd.install_idx_files, paths, os.path.join(tmp, "data"), "mnist", md5s)


def test_cifar10_archive_unpacks_into_the_layout(tmp):
    archive = os.path.join(tmp, "cifar-10-binary.tar.gz")
    members = cifar10_members()
    checksum = make_tar_gz(archive, members)
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    target = fd.unpack_cifar(archive, root, "cifar-10", expected_md5=checksum)
    assert target == os.path.join(root, "cifar-10")
    assert sorted(os.listdir(target)) == sorted(fd.CIFAR["cifar-10"]["files"])  # readme.html left out
    assert open(os.path.join(target, "test_batch.bin"), "rb").read() == members["cifar-10-batches-bin/test_batch.bin"]
    assert [n for n in os.listdir(root) if n.startswith(".unpack-")] == []  # staging removed


def test_cifar100_archive_unpacks_into_the_layout(tmp):
    archive = os.path.join(tmp, "cifar-100-binary.tar.gz")
    members = {
        "cifar-100-binary/train.bin": cifar_records(3, 3074),
        "cifar-100-binary/test.bin": cifar_records(2, 3074),
        "cifar-100-binary/fine_label_names.txt": b"apple\n",
        "cifar-100-binary/coarse_label_names.txt": b"fish\n",
    }
    checksum = make_tar_gz(archive, members)
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    target = fd.unpack_cifar(archive, root, "cifar-100", expected_md5=checksum)
    assert sorted(os.listdir(target)) == sorted(fd.CIFAR["cifar-100"]["files"])
    assert os.path.getsize(os.path.join(target, "train.bin")) == 3 * 3074


def test_corrupted_archive_is_rejected_by_its_checksum(tmp):
    archive = os.path.join(tmp, "cifar-10-binary.tar.gz")
    checksum = make_tar_gz(archive, cifar10_members())
    data = bytearray(open(archive, "rb").read())
    data[len(data) // 2] ^= 0xFF
    write(archive, bytes(data))
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    assert "MD5" in raises(fd.unpack_cifar, archive, root, "cifar-10", expected_md5=checksum)
    assert not os.path.exists(os.path.join(root, "cifar-10"))


def test_unreadable_archive_is_rejected_even_with_a_matching_checksum(tmp):
    archive = os.path.join(tmp, "cifar-10-binary.tar.gz")
    make_tar_gz(archive, cifar10_members())
    cut = open(archive, "rb").read()[:-200]
    write(archive, cut)
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    assert "cannot read" in raises(fd.unpack_cifar, archive, root, "cifar-10", expected_md5=md5(cut))
    assert not os.path.exists(os.path.join(root, "cifar-10"))


def test_partial_record_is_rejected(tmp):
    archive = os.path.join(tmp, "a.tar.gz")
    checksum = make_tar_gz(archive, cifar10_members(**{"data_batch_3.bin": cifar_records(1, 3073)[:-1]}))
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    message = raises(fd.unpack_cifar, archive, root, "cifar-10", expected_md5=checksum)
    assert "data_batch_3.bin" in message and "3073" in message


def test_missing_member_is_rejected(tmp):
    archive = os.path.join(tmp, "a.tar.gz")
    checksum = make_tar_gz(archive, cifar10_members(**{"test_batch.bin": None}))
    root = os.path.join(tmp, "data")
    os.makedirs(root)
    assert "test_batch.bin" in raises(fd.unpack_cifar, archive, root, "cifar-10", expected_md5=checksum)


def test_member_paths_cannot_escape_the_target(tmp):
    members = cifar10_members()
    members["../escaped.bin"] = cifar_records(1, 3073)
    members["cifar-10-batches-bin/../../test_batch.bin"] = b"evil"
    members["/tmp/absolute/test_batch.bin"] = b"evil"
    archive = os.path.join(tmp, "a.tar.gz")
    checksum = make_tar_gz(archive, members)
    root = os.path.join(tmp, "deep", "data")
    os.makedirs(root)
    fd.unpack_cifar(archive, root, "cifar-10", expected_md5=checksum)
    assert not os.path.exists(os.path.join(tmp, "deep", "escaped.bin"))
    assert open(os.path.join(root, "cifar-10", "test_batch.bin"), "rb").read() == cifar_records(2, 3073)


def test_sha256sums_lists_every_data_file(tmp):
    root = os.path.join(tmp, "data")
    write(os.path.join(root, "mnist", "a.gz"), b"abc")
    write(os.path.join(root, "cifar-10", "b.bin"), b"")
    write(os.path.join(root, ".downloads", "x.tar.gz"), b"skip me")
    assert fd.write_sha256sums(root) == 2
    lines = open(os.path.join(root, "SHA256SUMS")).read().splitlines()
    assert lines == [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  cifar-10/b.bin",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  mnist/a.gz",
    ]


def test_download_tries_mirrors_until_the_checksum_matches(tmp):
    good = b"the real file"
    served = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def opener(url, timeout):
        served.append(url)
        if "down" in url:
            raise OSError("connection refused")
        return Response(b"a tampered file" if "bad" in url else good)

    destination = os.path.join(tmp, "file.gz")
    fd.download(["http://down/", "http://bad/", "http://good/"], destination, md5(good), opener=opener)
    assert served == ["http://down/", "http://bad/", "http://good/"]
    assert open(destination, "rb").read() == good
    assert not os.path.exists(destination + ".part")
    message = raises(fd.download, ["http://down/", "http://bad/"], os.path.join(tmp, "other"), md5(good), opener=opener)
    assert "connection refused" in message and "MD5" in message
    assert not os.path.exists(os.path.join(tmp, "other"))


def test_real_mnist_files_match_the_published_md5s(tmp):
    """Uses ../shared/datasets/mnist when present (no network); skipped otherwise."""
    if not os.path.isdir(SHARED_MNIST):
        return
    paths = {name: os.path.join(SHARED_MNIST, name) for name in fd.MNIST_MD5}
    target = fd.install_idx_files(paths, os.path.join(tmp, "data"), "mnist", fd.MNIST_MD5)
    assert len(os.listdir(target)) == 4
    assert fd.check_idx_gzip(os.path.join(target, "t10k-labels-idx1-ubyte.gz")) == 10000


def main():
    tests = [(name, function) for name, function in sorted(globals().items()) if name.startswith("test_")]
    passed, failed = 0, 0
    for name, function in tests:
        tmp = tempfile.mkdtemp(prefix="lrm-fetch-test-")
        try:
            function(tmp)
            passed += 1
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
