"""A deterministic simulated plant and servers speaking each source system's wire protocol."""
