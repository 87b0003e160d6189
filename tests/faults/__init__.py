"""The fault-injection matrix: every AWS call of a handler fails once, the platform retries."""
