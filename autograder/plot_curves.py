"""Plot the training checks' curves (train loss and test accuracy per epoch) as a PNG.

    python -m autograder.plot_curves .curves/submission.json --reference .curves/solutions.json -o curves.png

One row per training check: loss on the left, accuracy on the right, the submission as a
solid line and the reference (if given) dashed, as students put them in their lab reports.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402


def plot(curves: dict, reference: dict | None, out: Path) -> None:
    names = sorted(curves["checks"])
    figure, axes = plt.subplots(len(names), 2, figsize=(10, 2.6 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        for label, source, style in (("submission", curves, "-"), ("reference", reference, "--")):
            if source is None or name not in source["checks"]:
                continue
            data = source["checks"][name]
            epochs = range(1, len(data["train_loss"]) + 1)
            row[0].plot(epochs, data["train_loss"], style, marker="o", label=label)
            row[1].plot(epochs, [100 * a for a in data["test_accuracy"]], style, marker="o", label=label)
        title = name.removeprefix("test_train_").replace("_", " ")
        row[0].set(title=f"{title}: train loss", xlabel="epoch", ylabel="loss")
        row[1].set(title=f"{title}: test accuracy", xlabel="epoch", ylabel="accuracy (%)")
        row[1].legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curves", type=Path, help="curves file written by a grading run")
    parser.add_argument("--reference", type=Path, help="curves of the reference solution, drawn dashed")
    parser.add_argument("-o", "--out", type=Path, default=Path("curves.png"))
    args = parser.parse_args(argv)
    reference = json.loads(args.reference.read_text()) if args.reference else None
    plot(json.loads(args.curves.read_text()), reference, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
