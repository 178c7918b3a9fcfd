"""Bus adapters: in-process (embedded) and NATS JetStream (production)."""
