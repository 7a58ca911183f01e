"""The reference memory-space registry server."""
