"""Pure-Python references of the native hot paths: the oracle for property tests and the
baseline in `ccx bench native`. Never used at runtime."""
