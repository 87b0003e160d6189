"""Browser tests of the chat widget and the agent page, against a protocol fake."""
