"""Plot the training checks' curves (train loss and test accuracy per epoch) as a PNG.

    python -m autograder.instructor.plot_curves .curves/submission.json --reference .curves/solutions.json -o curves.png

One row per training check: loss on the left, accuracy on the right, the submission as a
solid line and the reference (if given) dashed, as students put them in their lab reports.
`class_report` draws a whole class the same way, one thin line per student.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot(runs: list[dict], reference: dict | None, out: Path | BinaryIO) -> None:
    """Draw `runs` (one submission solid, a class as thin grey lines) and `reference` dashed; write a PNG."""
    names = sorted({name for run in [*runs, reference or {"checks": {}}] for name in run["checks"]})
    figure, axes = plt.subplots(len(names), 2, figsize=(10, 2.6 * len(names)), squeeze=False)
    one = len(runs) == 1
    styles = [("submission" if one else "class", run, {"marker": "o"} if one else
               {"color": "grey", "alpha": 0.4, "linewidth": 1}) for run in runs]
    if reference is not None:
        styles.append(("reference", reference, {"linestyle": "--", "marker": "o", "color": "black"}))
    for row, name in zip(axes, names):
        labelled = set()
        for label, source, style in styles:
            if name not in source["checks"]:
                continue
            data = source["checks"][name]
            epochs = range(1, len(data["train_loss"]) + 1)
            legend = label if label not in labelled else None
            labelled.add(label)
            row[0].plot(epochs, data["train_loss"], label=legend, **style)
            row[1].plot(epochs, [100 * a for a in data["test_accuracy"]], label=legend, **style)
        title = name.removeprefix("test_train_").replace("_", " ")
        row[0].set(title=f"{title}: train loss", xlabel="epoch", ylabel="loss")
        row[1].set(title=f"{title}: test accuracy", xlabel="epoch", ylabel="accuracy (%)")
        row[1].legend(loc="lower right")
        for axis in row:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no tick at 1.25
    figure.tight_layout()
    figure.savefig(out, dpi=90, format="png")
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", type=Path, help="curves file written by a grading run")
    parser.add_argument("--reference", type=Path, help="curves of the reference solution, drawn dashed")
    parser.add_argument("-o", "--out", type=Path, default=Path("curves.png"), help="the PNG to write (default: curves.png)")
    args = parser.parse_args(argv)
    reference = json.loads(args.reference.read_text()) if args.reference else None
    plot([json.loads(args.curves.read_text())], reference, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
