"""The judge's side of grading: never imports submission code.

It starts the worker and talks to it (`worker_client`), puts it in a sandbox with limits
(`sandbox`, `sandbox_cgroup`, `processes`), sizes the grading to the machine (`resources`,
`speed`), reads a trained network's history (`trained_history`) and writes results.json
(`results`). The checks and conftest.py use it.
"""
