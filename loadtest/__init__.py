"""Load tests of a running ccx stack: locust scenarios that behave like client backends
(`python -m loadtest list`, `python -m loadtest run SCENARIO`)."""
