"""Report section for the valuation part of `scaling-kit reproduce`."""
