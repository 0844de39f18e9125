"""The instructor's tools: they read the reference solution, so students never get this folder.

Generate the skeleton (`skeleton`), calibrate thresholds (`calibrate`), build the Gradescope zip
and the student release (`distribute`), draw training curves (`plot_curves`) and build the
notebook edition (`notebook`, `notebook_grading`). Each is a `python -m autograder.instructor.NAME`
command line. Grading a whole class has a room of its own (`autograder/class_grading/`), and so
do the benchmarks that measure what grading needs (`autograder/benchmarks/`).
"""
