"""Ray, for the instructor's work that spreads over a cluster: grading a class (`class_grading.ray_batch`) and
calibrating the thresholds (`instructor.ray_calibration`). `ray_tasks` connects, ships folders to the nodes once,
and runs tasks whose results the driver stores as they arrive, cancelling them all on Ctrl-C.
"""
