"""Transit: the declaration, the movement's lifecycle, its event log and P.CP.01's effects."""
