"""Dispatch-stage benchmarks (against a real `ccx sandbox` process)."""
