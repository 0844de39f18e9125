"""The instructor's tools: they read the reference solution, so students never get this folder.

Generate the skeleton (`skeleton`), calibrate thresholds (`calibrate`), build the Gradescope zip
and the student release (`distribute`), regrade a class (`grade_class`, `class_results`,
`class_report`, `plot_curves`), build the notebook edition (`notebook`, `notebook_grading`)
and measure what grading needs (`benchmark_*`). Each is a `python -m autograder.instructor.NAME`
command line.
"""
