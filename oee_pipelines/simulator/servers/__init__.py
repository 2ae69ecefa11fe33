"""Servers that speak each source system's wire protocol from the simulated plant."""
