"""`ccx up` / `ccx down`: the whole pipeline on one machine, supervised, with a demo."""
