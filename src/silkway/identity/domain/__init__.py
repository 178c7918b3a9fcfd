"""The pure part of identity: roles, principals, accounts, the route policy, the access log."""
