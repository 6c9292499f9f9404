"""Acknowledgement service (temporary local stand-in until the ack branch is merged)."""
