print("lrm-bench: no benchmarks yet")
