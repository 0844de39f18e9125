"""What runs on Gradescope, and only there: setup.sh builds the image, run_autograder grades one upload.

`run_autograder` (the script Gradescope calls) runs `python -m autograder.gradescope.run_autograder`,
which takes the upload apart (`uploads`), sizes the grading to the container and runs the judge
(`pytest autograder`) as a separate process. Students never get this folder.
"""
