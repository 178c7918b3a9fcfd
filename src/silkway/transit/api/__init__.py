"""Transit's HTTP routes and their request and response shapes."""
