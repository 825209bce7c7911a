"""The tables of `core/models.py`, one module per table family."""
