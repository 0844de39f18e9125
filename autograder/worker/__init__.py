"""Everything the worker process runs: the only process that imports and runs submission code.

This folder depends on the standard library, numpy and torch only, and is copied whole into
the sandbox (`judge/sandbox.py`), where it runs as the package `worker`:

    python -I WORKER_FOLDER IMPL_DIR

The judge imports `contract` and `wire` (what both sides say) and, for --inprocess
debugging, `serve.handle_request`.
"""
