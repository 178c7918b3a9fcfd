"""Transit's storage on SQL."""
