"""The exchange's storage on SQL: outbox, inbox, partners, dead letters, register, journal."""
