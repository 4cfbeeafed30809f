"""The stack spec and everything beside it that says how to build: ``[tool.srcstacks]``,
the build settings, patches, target platforms and each variant's spec."""
