"""Request models of the simulated Cloud API."""
