"""One module per CLI verb: argument parsing and printing only; the work is in the library."""
