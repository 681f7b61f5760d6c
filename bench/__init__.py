"""ccx benchmarks: native vs pure-Python microbenchmarks and pipeline benchmarks."""
