# The autograder image, for Gradescope's manual Docker configuration and for grading locally:
#   docker build -t cnn-lab-autograder .
#   docker run --rm -v "$PWD/upload:/autograder/submission:ro" -v "$PWD/results:/autograder/results" \
#       cnn-lab-autograder /autograder/run_autograder
# It holds what `python -m autograder.instructor.distribute gradescope` puts in autograder.zip, set up by
# the same setup.sh, on Gradescope's Ubuntu 22.04 base. Build arguments:
#   BASE_IMAGE          another base (ubuntu:22.04 works too; tests/test_container.py uses a local Debian)
#   CNNLAB_TORCH_INDEX  where pip finds torch (default in setup.sh: PyTorch's CPU-only index)
#   CNNLAB_RAW_DATA     a folder, mounted into the build, holding the official dataset files
ARG BASE_IMAGE=gradescope/autograder-base:ubuntu-22.04
# hadolint ignore=DL3006
FROM ${BASE_IMAGE}
ARG CNNLAB_TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG CNNLAB_RAW_DATA=

# Python, the sandbox user and torch first: this layer is reused while only the grader changes.
COPY autograder/gradescope/setup.sh /autograder/setup.sh
RUN bash /autograder/setup.sh system torch

COPY autograder /autograder/source/autograder
COPY assignment /autograder/source/assignment
COPY solutions /autograder/source/solutions
COPY data_scripts /autograder/source/data_scripts
COPY pyproject.toml ASSIGNMENT_SPEC.md README.md /autograder/source/

RUN bash /autograder/setup.sh grader data \
 && install -m 0755 /autograder/source/autograder/gradescope/run_autograder /autograder/run_autograder

WORKDIR /autograder
CMD ["/autograder/run_autograder"]
