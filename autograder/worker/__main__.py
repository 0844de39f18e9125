"""Start the worker: `python -I WORKER_FOLDER IMPL_DIR`.

A folder run this way has only itself on sys.path; its parent goes first instead, so this
folder imports as the package `worker`, wherever it was copied to.
"""
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from worker.serve import main  # noqa: E402 (the path above comes first)

main(sys.argv[1:])
