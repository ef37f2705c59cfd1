"""Report section for the engine part of `scaling-kit reproduce`."""
