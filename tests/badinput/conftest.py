"""The bad-input suite records what it tried with `record_counts(...)` (tests/support/counts.py);
the counts are printed in a "badinput suite counts" section at the end of the run.
"""
