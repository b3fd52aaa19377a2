"""`make bench`: NovaMind measured against its limits, as ratios against controls of the same run.

The machine is shared and noisy, so no figure here is an absolute time: every row compares a
measure with a control taken in the same process, on the same database, minutes apart, or is a
count (queries, bytes) that does not depend on the machine's speed. See `bench.run` for the
order of a run and README.md ("Performance") for the last table.
"""
