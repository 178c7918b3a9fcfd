"""The guarantees' storage on SQL."""
