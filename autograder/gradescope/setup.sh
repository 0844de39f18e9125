#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the Dockerfile runs
# it too. It installs everything grading needs, so grading itself never downloads anything:
# Python and tcmalloc, CPU-only PyTorch of the pinned versions, the grader's packages, the
# sandbox user, and the prepared CIFAR-10 and MNIST subsets.
#
#   setup.sh                    every step, in order (what Gradescope runs)
#   setup.sh system torch       some steps: the Dockerfile runs these two before it copies the
#                               source, so their image layers are reused when only the grader changes
#
# Settings (environment):
#   CNNLAB_TORCH_INDEX  where pip finds torch and torchvision (default: PyTorch's CPU-only index;
#                       a mirror, or file:///DIR/simple for a local folder index)
#   CNNLAB_RAW_DATA     read the official CIFAR-10/MNIST files from this folder instead of downloading
set -euo pipefail

source_dir="${CNNLAB_SOURCE:-/autograder/source}"
venv="${CNNLAB_VENV:-/autograder/venv}"
torch_index="${CNNLAB_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
# The versions the thresholds were calibrated with (pyproject.toml's grading extra); students take pyproject's ranges.
torch_pins=(torch==2.14.1 torchvision==0.29.1)
sandbox_user=cnnlab-student
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1

# The sandbox user runs the venv's interpreter, so everything in it must be readable by everyone. Only what
# lacks that is changed: in an image, touching a file copies it into the new layer (torch is 5 GB).
open_to_everyone() {
  find "$1" \( ! -perm -a+r -o \( -perm -u+x ! -perm -a+x \) \) -exec chmod a+rX {} +
}

system() {
  apt-get update
  # tcmalloc: the worker trains faster with it, to the same accuracies (autograder/judge/allocator.py).
  # libseccomp2: the sandbox's network filter where it can make no network namespace (worker/network_filter.py).
  apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates libtcmalloc-minimal4 \
    libseccomp2
  rm -rf /var/lib/apt/lists/*
  # Submission code runs as this user, with no home of its own and no login shell.
  if ! id "$sandbox_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$sandbox_user"
  fi
}

torch() {
  python3 -m venv "$venv"
  "$venv/bin/pip" install --upgrade pip
  "$venv/bin/pip" install --index-url "$torch_index" "${torch_pins[@]}"
  open_to_everyone "$venv"
}

grader() {
  # With the pins again (the grading extra), so that resolving the grader's ranges never replaces torch.
  "$venv/bin/pip" install "${source_dir}[grading]"
  open_to_everyone "$venv"
}

data() {
  cd "$source_dir"
  "$venv/bin/python" -m data_scripts.prepare
  # The thresholds hold only for the images and settings they were calibrated on: refuse the image otherwise.
  "$venv/bin/python" -m autograder.instructor.calibrate --verify
}

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  steps=(system torch grader data)
fi
for step in "${steps[@]}"; do
  case "$step" in
    system | torch | grader | data) "$step" ;;
    *) echo "setup.sh: unknown step '$step' (the steps: system torch grader data)" >&2; exit 2 ;;
  esac
done
