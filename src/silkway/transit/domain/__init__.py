"""Transit's pure model: declaration and rules, the movement machine, audit chain, messages."""
