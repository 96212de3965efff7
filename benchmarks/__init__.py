"""Speed benchmarks: ratios against baselines measured in the same run (see benchmarks/README.md)."""
