"""What runs inside the local stack's Lambda worker processes: standard library only."""
