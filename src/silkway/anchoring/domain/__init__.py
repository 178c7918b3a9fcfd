"""What an anchor is and how a log is judged against it (pure)."""
