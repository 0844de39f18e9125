"""Benchmarks that print what grading costs, for instructors choosing settings and for the README's figures.

`container` grades the solution in a Gradescope-sized cgroup (time, memory, per-check seconds), `training_checks`
times the training checks and samples their memory, `class_batches` measures uploads per hour, `trained_networks`
the trained-network check per network, `batch_throughput` the grader's batches against a DataLoader loop. Each
is a `python -m autograder.benchmarks.NAME` command line; none is asserted in a test.
"""
