"""Peer libraries for benchmarks/run.py: each module gives WORKLOADS, a dict from workload name to
a zero-argument setup that returns the step to time, written in that library's own idiom.
SUBSTITUTED (optional) maps a workload name to a note on what its version computes differently."""
