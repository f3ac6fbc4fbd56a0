"""The built-in simulated provider: deterministic models for the demo and the tests."""
