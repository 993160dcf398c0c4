#!/usr/bin/env python3
"""The numpy/scipy side of tools/bench_blas.sh: the same measurements as `lrm-bench blas run`.

Prints `report …` lines (versions, the OpenBLAS core numpy and scipy use) and `result …` lines
in lrm-bench's format:

    result sgemm 2048x2048x2048 gflops 201.3      numpy.matmul on float32
    result sgesdd 784x512 seconds 0.0480          scipy.linalg.svd(lapack_driver='gesdd') on float32

numpy.linalg.svd always computes in float64, so float32 gesdd is compared with scipy's.
Environment variables (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, …) are used as they are.
"""
import argparse
import ctypes
import glob
import os
import statistics
import sys
import time


def parse_shape(text):
    rows, columns = (int(part) for part in text.lower().split("x"))
    return rows, columns


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemm-size", type=int, default=2048)
    parser.add_argument("--svd", default="784x512,3072x1024", help="comma-separated shapes, e.g. 784x512")
    parser.add_argument("--large", action="store_true", help="add 4096x4096 to the SVD shapes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report-only", action="store_true")
    arguments = parser.parse_args()
    arguments.svd_shapes = [parse_shape(text) for text in arguments.svd.split(",") if text]
    if arguments.large:
        arguments.svd_shapes.append((4096, 4096))
    return arguments


def openblas_info(package, library_glob, prefix, suffix):
    """Core name, configuration and threads of the OpenBLAS bundled with a wheel, or None."""
    directory = os.path.join(os.path.dirname(package.__file__), os.pardir, library_glob)
    for path in glob.glob(directory):
        try:
            library = ctypes.CDLL(path)
            get_config = getattr(library, f"{prefix}get_config{suffix}")
            get_corename = getattr(library, f"{prefix}get_corename{suffix}")
            get_threads = getattr(library, f"{prefix}get_num_threads{suffix}")
        except (OSError, AttributeError):
            continue
        get_config.restype = get_corename.restype = ctypes.c_char_p
        return f"{get_corename().decode()} ({get_config().decode().strip()}, {get_threads()} threads)"
    return None


def report():
    import numpy
    import scipy

    print(f"report numpy: {numpy.__version__}, scipy: {scipy.__version__}, python {sys.version.split()[0]}")
    numpy_blas = openblas_info(numpy, "numpy.libs/libscipy_openblas64_*.so", "scipy_openblas_", "64_")
    scipy_blas = openblas_info(scipy, "scipy.libs/libscipy_openblas-*.so", "scipy_openblas_", "")
    print(f"report numpy kernels: {numpy_blas or '(not a bundled OpenBLAS)'}")
    print(f"report scipy kernels: {scipy_blas or '(not a bundled OpenBLAS)'}")


def measure(arguments):
    import numpy
    import scipy.linalg

    rng = numpy.random.default_rng(1)
    size = arguments.gemm_size
    a = rng.standard_normal((size, size), dtype=numpy.float32)
    b = rng.standard_normal((size, size), dtype=numpy.float32)
    c = numpy.empty((size, size), dtype=numpy.float32)
    numpy.matmul(a, b, out=c)  # warm-up: thread pool, buffers
    times = []
    for _ in range(arguments.repeats):
        start = time.perf_counter()
        numpy.matmul(a, b, out=c)
        times.append(time.perf_counter() - start)
    flops = 2.0 * size ** 3
    print(f"result sgemm {size}x{size}x{size} gflops {flops / statistics.median(times) / 1e9:.1f}")

    # numpy and scipy each bundle an OpenBLAS with its own thread pool; let numpy's workers
    # stop spinning (OpenBLAS's thread timeout is ~0.1 s) before scipy's start working.
    time.sleep(0.5)
    for rows, columns in arguments.svd_shapes:
        matrix = rng.standard_normal((rows, columns), dtype=numpy.float32)
        repeats = arguments.repeats if rows * columns <= 1_000_000 else 1
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesdd")
            times.append(time.perf_counter() - start)
        print(f"result sgesdd {rows}x{columns} seconds {statistics.median(times):.4f}")


def main():
    arguments = parse_arguments()
    try:
        report()
    except ImportError as error:
        print(f"bench_blas_numpy.py: numpy and scipy are needed: {error}", file=sys.stderr)
        return 2
    if not arguments.report_only:
        measure(arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
