"""Pure domain logic on frames and Arrow tables: no I/O, no Dagster."""
