"""Report sections of `scaling-kit reproduce`: each module exposes `run(profile, figdir) -> str`."""
