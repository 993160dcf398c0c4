#!/usr/bin/env python3
"""Cross-checks lrm's classification metrics (LRMVerify) against scikit-learn.

The Swift test `MetricsSklearnDumpTests` writes random cases -- scores, labels, lrm's
predictions and lrm's metrics JSON -- to the file named by LRM_METRICS_DUMP. This script
recomputes everything with NumPy and scikit-learn and compares:

  accuracy_score, f1_score(average='macro' / 'weighted'), precision_score and recall_score
  (same averages), precision_recall_fscore_support (per class, labels=range(C)),
  top_k_accuracy_score(k=5) (more than 10 classes), confusion_matrix, numpy.argmax.

scikit-learn is called with its defaults (zero_division="warn", which yields 0; labels=None
for the averages). For the case with deliberate score ties, top-5 is compared with lrm's
documented rule (rank by score descending, ties to the lower index) computed in NumPy,
because sklearn ranks tied scores the other way round.

Usage:
  python3 tools/check_metrics_sklearn.py DUMP.json      # check an existing dump
  python3 tools/check_metrics_sklearn.py                # run the Swift test to make one
      (uses `swift test --scratch-path $LRM_SCRATCH_PATH`, default .build)

Installs nothing. If scikit-learn is not importable it says so and exits 0.
Prints "N passed, M failed"; exits 1 if anything failed.
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

# Both sides compute ratios of the same integer counts in float64: they agree to a few ulps.
TOLERANCE = 1e-12


def make_dump(path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scratch = os.environ.get("LRM_SCRATCH_PATH", ".build")
    env = dict(os.environ, LRM_METRICS_DUMP=path)
    command = ["swift", "test", "--scratch-path", scratch, "--filter", "MetricsSklearnDump"]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not os.path.exists(path):
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit("check_metrics_sklearn: `%s` failed" % " ".join(command))


def top5_lowest_index_rule(scores, labels):
    """lrm's rule: rank by score descending, ties to the lower index."""
    import numpy as np
    order = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    return float(np.mean([label in row for label, row in zip(labels, order)]))


def check_case(case, report):
    import numpy as np
    from sklearn import metrics as skm
    from sklearn.utils.multiclass import unique_labels

    name = case["name"]
    classes = case["classes"]
    y_true = np.array(case["labels"], dtype=np.int64)
    scores = np.array(case["outputs"], dtype=np.float64)
    lrm = case["lrm"]
    y_pred = np.argmax(scores, axis=1)
    all_labels = np.arange(classes)

    def close(what, ours, theirs):
        ok = ours is not None and theirs is not None and abs(float(ours) - float(theirs)) <= TOLERANCE
        report(ok, "%s: %s: lrm %r, sklearn %r" % (name, what, ours, theirs))

    report(case["lrm_predictions"] == y_pred.tolist(), "%s: argmax equals numpy.argmax" % name)
    close("accuracy", lrm["accuracy"], skm.accuracy_score(y_true, y_pred))
    close("f1 macro", lrm["f1_macro"], skm.f1_score(y_true, y_pred, average="macro"))
    close("f1 weighted", lrm["f1_weighted"], skm.f1_score(y_true, y_pred, average="weighted"))
    close("precision macro", lrm["precision_macro"], skm.precision_score(y_true, y_pred, average="macro"))
    close("recall macro", lrm["recall_macro"], skm.recall_score(y_true, y_pred, average="macro"))
    close("precision weighted", lrm["precision_weighted"], skm.precision_score(y_true, y_pred, average="weighted"))
    close("recall weighted", lrm["recall_weighted"], skm.recall_score(y_true, y_pred, average="weighted"))
    report(lrm["f1_macro_classes"] == len(unique_labels(y_true, y_pred)),
           "%s: macro averages run over the %d classes in labels or predictions" % (name, lrm["f1_macro_classes"]))

    precision, recall, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=all_labels)
    per_class = lrm["per_class"]
    worst = max(max(abs(row["precision"] - p), abs(row["recall"] - r), abs(row["f1"] - f))
                for row, p, r, f in zip(per_class, precision, recall, f1))
    report(len(per_class) == classes and worst <= TOLERANCE,
           "%s: per-class precision/recall/F1 (largest difference %.3g)" % (name, worst))
    report([row["support"] for row in per_class] == support.tolist(), "%s: per-class support" % name)

    matrix = skm.confusion_matrix(y_true, y_pred, labels=all_labels)
    report(lrm["confusion_matrix"]["counts"] == matrix.tolist(), "%s: confusion matrix (rows true)" % name)

    if classes > 10:
        if case["ties"]:
            close("top-5 (lowest-index tie rule)", lrm["top5_accuracy"], top5_lowest_index_rule(scores, y_true))
        else:
            close("top-5", lrm["top5_accuracy"], skm.top_k_accuracy_score(y_true, scores, k=5, labels=all_labels))
    else:
        report(lrm["top5_accuracy"] is None, "%s: no top-5 for %d classes" % (name, classes))


def main(argv):
    try:
        import numpy  # noqa: F401
        import sklearn
        from sklearn.exceptions import UndefinedMetricWarning
    except ImportError:
        print("scikit-learn is not importable; nothing checked (pip install scikit-learn to run this check)")
        print("0 passed, 0 failed")
        return 0
    warnings.simplefilter("ignore", UndefinedMetricWarning)

    if len(argv) > 1:
        path = argv[1]
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="lrm-metrics-"), "metrics.json")
        make_dump(path)
    with open(path) as handle:
        dump = json.load(handle)

    passed, failed = 0, 0

    def report(ok, message):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL " + message)

    for case in dump["cases"]:
        check_case(case, report)
    print("scikit-learn %s, %d cases from %s" % (sklearn.__version__, len(dump["cases"]), path))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
