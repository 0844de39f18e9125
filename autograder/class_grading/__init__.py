"""Grading a whole class, for instructors: every upload of a folder graded as Gradescope grades it, on this
machine or on a Ray cluster, resumable, with the class's scores, failures and report.

`upload_grading` grades one upload; `grade_class` (the command line) runs a batch of them here (`LocalBatch`) or
on Ray (`ray_batch`), with progress (`batch_progress`); `class_results` reads what a batch stored and
`class_report` draws it as one page. Each command is a `python -m autograder.class_grading.NAME`.
"""
