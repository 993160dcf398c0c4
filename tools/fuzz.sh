#!/usr/bin/env bash
# Builds one libFuzzer target and runs it for SECONDS seconds with one job (one core).
#
#   tools/fuzz.sh TARGET SECONDS [libFuzzer flags…]
#
# TARGET is container (ContainerFile on bytes, checksums, model load, re-encoding), keras-config (the
# Keras config JSON → architecture → container mapping), npy (NPY.decode) or datasets (IDX and CIFAR
# files, class-name files). Everything lives under .build-fuzz/ (git-ignored):
#
#   .build-fuzz/work/TARGET/seeds    regenerated on every run from spec/vectors, the Keras fixtures and
#                                    corpus, the crafted files of Tests/ReliabilityTests/Crafted, the
#                                    samples' .npz members and small synthetic files
#   .build-fuzz/work/TARGET/corpus   the growing corpus, kept between runs
#   .build-fuzz/work/TARGET/crashes  crash-*, leak-*, timeout-*, oom-* inputs libFuzzer found
#   .build-fuzz/work/TARGET/log.txt  the run's output (libFuzzer's fuzz-0.log); stat:: figures at the end
#
# A crasher replays without the sanitizer toolchain: swift build --product FuzzContainer, then
# .build/debug/FuzzContainer FILE. Keep it as a regression input in Tests/ReliabilityTests/Crashers/TARGET/.
# Environment: LRM_FUZZ_SCRATCH (build folder, default .build-fuzz), LRM_FUZZ_MAX_LEN (default per target).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 2 ]]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
fi
target=$1
seconds=$2
shift 2
case "$target" in
    container) product=FuzzContainer; max_len=16384 ;;
    keras-config) product=FuzzKerasConfig; max_len=65536 ;;
    npy) product=FuzzNPY; max_len=8192 ;;
    datasets) product=FuzzDatasets; max_len=16384 ;;
    *) echo "fuzz.sh: unknown target '$target', expected container, keras-config, npy or datasets" >&2; exit 64 ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, found '$seconds'" >&2; exit 64; }

scratch=${LRM_FUZZ_SCRATCH:-.build-fuzz}
work="$scratch/work/$target"
mkdir -p "$work/seeds" "$work/corpus" "$work/crashes"

echo "fuzz.sh: building $product (release, -sanitize=fuzzer,address)…" >&2
# ld.gold warns once per sanitizer symbol it cannot export; those lines are noise.
swift build -c release --scratch-path "$scratch" --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLRM_FUZZING 2>&1 | grep -v "Cannot export local symbol" >&2
binary="$scratch/release/$product"

echo "fuzz.sh: writing seeds to $work/seeds…" >&2
rm -rf "$work/seeds" && mkdir -p "$work/seeds"
python3 - "$target" "$work/seeds" <<'PY'
import glob, gzip, io, json, os, struct, sys, zipfile
target, out = sys.argv[1], sys.argv[2]
count = 0
def seed(name, data):
    global count
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    count += 1

def json_objects(blob):
    """Model configs stored as HDF5 string attributes: every balanced {"class_name": …} object in the bytes."""
    start = blob.find(b'{"class_name"')
    while start >= 0:
        depth, in_string, escape = 0, False, False
        for end in range(start, min(len(blob), start + (1 << 22))):
            c = blob[end]
            if in_string:
                escape = (c == 0x5C and not escape)
                if c == 0x22 and not escape:
                    in_string = False
                continue
            if c == 0x22: in_string = True
            elif c == 0x7B: depth += 1
            elif c == 0x7D:
                depth -= 1
                if depth == 0:
                    yield blob[start:end + 1]
                    break
        start = blob.find(b'{"class_name"', start + 1)

if target == "container":
    for path in sorted(glob.glob("spec/vectors/*/*.lrm")):
        seed(os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path), open(path, "rb").read())
    # Issue 19's crafted files (tiny files claiming huge work), built by CraftedFileTests.
    for path in sorted(glob.glob("Tests/ReliabilityTests/Crafted/*.lrm")):
        seed("crafted-" + os.path.basename(path), open(path, "rb").read())
elif target == "keras-config":
    sources = sorted(glob.glob("Tests/LRMKerasTests/Fixtures/*") + glob.glob("Tests/LRMKerasTests/Fixtures/cnn/*") + glob.glob("../shared/keras-corpus/*/*") + glob.glob("samples/*")
                     + glob.glob("Tests/ReliabilityTests/Crafted/*.json"))
    seen = set()
    for path in sources:
        base = os.path.basename(path)
        configs = []
        if path.endswith(".keras"):
            try:
                configs.append(zipfile.ZipFile(path).read("config.json"))
            except Exception:
                pass
        elif path.endswith(".json") and not path.endswith(".ref.json"):
            configs.append(open(path, "rb").read())
        elif path.endswith(".h5") and not path.endswith(".weights.h5"):
            configs += list(json_objects(open(path, "rb").read()))[:1]
        for index, config in enumerate(configs):
            if config in seen or len(config) > 65536:
                continue
            seen.add(config)
            seed(f"{base}-{index}.json", config)
elif target == "npy":
    import numpy as np
    for path in sorted(glob.glob("samples/*.npz") + glob.glob("Tests/LRMKerasTests/Fixtures/*.npz")):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                data = archive.read(member)
                if len(data) <= 8192:
                    seed(os.path.basename(path) + "-" + member, data)
    def npy(name, array, version=None):
        buffer = io.BytesIO()
        if version is None:
            np.save(buffer, array)
        else:
            np.lib.format.write_array(buffer, array, version=version)
        seed(name + ".npy", buffer.getvalue())
    rng = np.random.default_rng(8)
    for dtype in ["<f2", "<f4", "<f8", "<i4", "<i8", "|u1", "|b1", ">f4"]:
        npy("small-" + dtype.replace("<", "le").replace(">", "be").replace("|", ""), (rng.random((3, 4)) * 10).astype(dtype))
    npy("scalar", np.float32(1.5).reshape(()))
    npy("empty", np.zeros((0, 5), np.float32))
    npy("fortran", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    npy("version2", np.arange(4, dtype=np.float64), version=(2, 0))
    npy("version3", np.arange(4, dtype=np.int32), version=(3, 0))
elif target == "datasets":
    def idx_images(n):
        return struct.pack(">IIII", 0x803, n, 28, 28) + bytes((i * 7) % 256 for i in range(n * 784))
    def idx_labels(labels):
        return struct.pack(">II", 0x801, len(labels)) + bytes(labels)
    def mnist(name, images, labels):
        seed(name, bytes([0]) + struct.pack("<I", len(images)) + images + labels)
    mnist("mnist-raw", idx_images(2), idx_labels([3, 9]))
    mnist("mnist-gzip", gzip.compress(idx_images(2), mtime=0), gzip.compress(idx_labels([0, 1]), mtime=0))
    mnist("mnist-mixed", idx_images(1), gzip.compress(idx_labels([5]), mtime=0))
    mnist("mnist-empty", idx_images(0), idx_labels([]))
    record10 = lambda label: bytes([label]) + bytes((i * 3) % 256 for i in range(3072))
    record100 = lambda coarse, fine: bytes([coarse, fine]) + bytes((i * 5) % 256 for i in range(3072))
    seed("cifar10", bytes([1]) + record10(2) + record10(9))
    seed("cifar100-fine", bytes([2]) + record100(4, 77) + record100(19, 99))
    seed("cifar100-coarse", bytes([3]) + record100(0, 0))
    seed("cifar10-names", bytes([4]) + b"\n".join(b"class %d" % i for i in range(10)) + b"\n")
print(f"fuzz.sh: {count} seeds", file=sys.stderr)
PY

echo "fuzz.sh: running $product for $seconds s (one job; crashes in $work/crashes)…" >&2
# malloc_context_size=0: no allocation stack traces (a third of the time goes to unwinding otherwise);
# replay a crasher with the default options to see them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
# Swift's own backtracer would catch a trap first (and trips the sanitizer); let libFuzzer report it.
export SWIFT_BACKTRACE=enable=no
binary=$(realpath "$binary")
work=$(realpath "$work")
rm -f "$work/fuzz-0.log"
set +e
# -jobs=1 runs the fuzzer in one child process whose output goes to fuzz-0.log in the current folder.
(cd "$work" && "$binary" -jobs=1 -workers=1 -max_total_time="$seconds" -max_len="${LRM_FUZZ_MAX_LEN:-$max_len}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" \
    "$work/corpus" "$work/seeds" > "$work/driver.txt" 2>&1)
status=$?
set -e
cp "$work/fuzz-0.log" "$work/log.txt" 2>/dev/null || cp "$work/driver.txt" "$work/log.txt"
grep -E "^#[0-9]+.*(INITED|DONE)|ERROR|SUMMARY|Test unit written|^stat::|^Done" "$work/log.txt" >&2 || true
crashes=$(find "$work/crashes" -type f | wc -l)
echo "fuzz.sh: $product exited $status; $crashes file(s) in $work/crashes; corpus $(find "$work/corpus" -type f | wc -l) inputs" >&2
exit "$status"
