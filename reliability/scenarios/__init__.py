"""One module per scenario, each with `run(short: bool) -> ScenarioResult`."""
