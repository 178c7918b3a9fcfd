"""The seals' storage on SQL."""
