"""Report section for the aggregate part of `scaling-kit reproduce`."""
