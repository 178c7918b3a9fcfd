"""The seals' pure model: seals, incident rules, planned route, corridor geometry, telemetry."""
