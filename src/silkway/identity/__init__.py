"""Who may do what: the node's people and machine clients, their tokens, and the access policy."""
