"""What every capability shares: domain errors, codes and check characters."""
