# The autograder image, for Gradescope's manual Docker configuration and for grading locally:
#   docker build -t cnn-lab-autograder .
#   docker run --rm -v "$PWD/upload:/autograder/submission" -v "$PWD/results:/autograder/results" \
#       cnn-lab-autograder /autograder/run_autograder
# It holds what `python -m autograder.instructor.distribute gradescope` puts in autograder.zip, set up by
# the same setup.sh, on Gradescope's Ubuntu 22.04 base. BASE_IMAGE picks another base
# (--build-arg BASE_IMAGE=ubuntu:22.04 works too).
ARG BASE_IMAGE=gradescope/autograder-base:ubuntu-22.04
# hadolint ignore=DL3006
FROM ${BASE_IMAGE}

COPY autograder /autograder/source/autograder
COPY assignment /autograder/source/assignment
COPY solutions /autograder/source/solutions
COPY data_scripts /autograder/source/data_scripts
COPY pyproject.toml ASSIGNMENT_SPEC.md README.md /autograder/source/

# hadolint ignore=DL3008
RUN bash /autograder/source/autograder/gradescope/setup.sh \
 && install -m 0755 /autograder/source/autograder/gradescope/run_autograder /autograder/run_autograder

WORKDIR /autograder
CMD ["/autograder/run_autograder"]
