"""The tests' shared harness: warehouse seeding, simulator sources, processes and servers on loopback.

Tests, `benchmarks/` and `reliability/` import from here; nothing imports a conftest or a test module.
Conftests hold only fixtures, wrapping what these modules provide.
"""
