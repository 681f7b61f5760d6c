"""Command-line front of the benchmarks that live in the checkout's `bench/` folder."""
