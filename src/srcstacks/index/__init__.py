"""Package indexes: reading a project's page, the private index a stack publishes to,
and the devpi index srcstacks can run for you."""
