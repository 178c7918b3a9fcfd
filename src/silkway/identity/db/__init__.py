"""Identity's storage on the node database."""
