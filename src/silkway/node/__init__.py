"""A node's plumbing: its clock, its database engine, migrations and the one transaction."""
