"""Report section for the estimators part of `scaling-kit reproduce`."""
