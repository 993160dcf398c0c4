#!/usr/bin/env python3
"""Writes Tests/LRMKerasTests/Fixtures/mlp_unlimited.h5 and mlp_unlimited_v110.h5: the mlp fixture (mlp.h5) with
every weight dataset rewritten as h5py writes a resizable one, maxshape=(None, ...) (H5S_UNLIMITED, 2**64 - 1, in
every dimension of the dataspace's maximum dimensions), which Keras never writes but h5py can.

Usage (from the package root), with h5py only:
    /tmp/lead/venv/bin/python tools/make_unlimited_fixtures.py

Each weight dataset is created chunked at shape (1, ...), resized to its real shape and then written, so its
current dimensions are not its first ones; the kernels use chunks of 2 x 2 (edge chunks only partly inside the
dataset) and gzip, the other datasets chunks of 3 without compression. mlp_unlimited.h5 is written with h5py's
default libver ("earliest": version-1 B-tree chunk indexes); mlp_unlimited_v110.h5 with libver "v110" (an
extensible array indexes a dataset with one unlimited dimension, a version-2 B-tree one with two).
"""
import os

import h5py
import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures")


def rewrite(source, target, libver):
    with h5py.File(source, "r") as src, h5py.File(target, "w", libver=libver) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)
        datasets = []
        dst.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in datasets:
            data = dst[name][()]
            attrs = dict(dst[name].attrs)
            del dst[name]
            kernel = data.ndim == 2
            dataset = dst.create_dataset(name, shape=(1,) * data.ndim, maxshape=(None,) * data.ndim, dtype=data.dtype,
                                         chunks=(2, 2) if kernel else (3,) * data.ndim,
                                         compression="gzip" if kernel else None)
            dataset.resize(data.shape)
            dataset[...] = data
            for key, value in attrs.items():
                dataset.attrs[key] = value


if __name__ == "__main__":
    source = os.path.join(FIXTURES, "mlp.h5")
    rewrite(source, os.path.join(FIXTURES, "mlp_unlimited.h5"), "earliest")
    rewrite(source, os.path.join(FIXTURES, "mlp_unlimited_v110.h5"), "v110")
