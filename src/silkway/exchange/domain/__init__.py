"""The exchange's pure model: envelopes, the common processes and their message catalogue."""
