"""Report section for the individual part of `scaling-kit reproduce`."""
