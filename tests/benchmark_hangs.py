"""Grade every hang of `tests/submissions/hangs.py` as Gradescope would and print what each cost.

    python -m tests.benchmark_hangs [--time-limit 600] [--time-limit-scale 1] [--kinds sleep endless_loop stdin]

Each upload goes through run_autograder in the stand-in /autograder of `tests/gradescope_layout.py`
(whose course standard is the smoke profile), with Gradescope's default timeout and the rubric's own
time limits unless told otherwise. The table gives the score, the points lost outside the file the hang
sits in (always 0, or the grader is wrong), and the wall time beside the solution's.
"""
from __future__ import annotations

import argparse
import signal
import sys

from .gradescope_layout import SimulatedGradescope
from .submissions.hangs import HANGS, KINDS, TARGETS
from .test_gradescope import solution_files
from .test_hangs import lost_only_what_it_touches


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", default="600", help="seconds for a grading (Gradescope's default: 600)")
    parser.add_argument("--time-limit-scale", default="1", help="times the rubric's check limits (default 1)")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--functions", nargs="+", default=[f for _, f in TARGETS], choices=[f for _, f in TARGETS],
                        help="the hung functions to grade (default: all)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill ends the grading under way too
    options = ("--time-limit", args.time_limit, "--time-limit-scale", args.time_limit_scale)
    gradescope = SimulatedGradescope()
    try:
        solution = gradescope.grade(solution_files(), *options)
        print(f"| upload | score | lost in its file | wall time |\n| --- | --- | --- | --- |\n"
              f"| the solution | {solution.results['score']:g} | - | {solution.seconds:.0f} s |", flush=True)
        for hang in (h for h in HANGS if h.kind in args.kinds and h.function in args.functions):
            graded = gradescope.grade(hang.files(), *options)
            lost = lost_only_what_it_touches(hang, graded.results)
            print(f"| {hang.name} | {graded.results['score']:g} | {sum(t['max_score'] for t in lost):g} | "
                  f"{graded.seconds:.0f} s |", flush=True)
    finally:
        gradescope.close()


if __name__ == "__main__":
    main()
