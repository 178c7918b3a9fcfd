"""Demo traffic for the embedded set-up."""
