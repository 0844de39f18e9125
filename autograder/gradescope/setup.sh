#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image; the Dockerfile runs
# it too. It installs everything grading needs, so grading itself never downloads anything:
# Python, CPU-only PyTorch of the pinned versions, the grader's packages, the sandbox user,
# and the prepared CIFAR-10 and MNIST subsets.
set -euo pipefail

source_dir="${CNNLAB_SOURCE:-/autograder/source}"
venv="${CNNLAB_VENV:-/autograder/venv}"
sandbox_user=cnnlab-student
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
rm -rf /var/lib/apt/lists/*

# Submission code runs as this user, with no home of its own and no login shell.
if ! id "$sandbox_user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$sandbox_user"
fi

python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1
"$venv/bin/pip" install "$source_dir"
# The sandbox user runs this interpreter, so it must be readable by everyone.
chmod -R a+rX "$venv"

cd "$source_dir"
"$venv/bin/python" -m data_scripts.prepare
# The thresholds hold only for the images and settings they were calibrated on: refuse the image otherwise.
"$venv/bin/python" -m autograder.instructor.calibrate --verify
