"""Report section for the theory part of `scaling-kit reproduce`."""
