"""Navigation seals: registry, activation, telemetry ingest, incidents, P.SO.01, devices, listeners."""
