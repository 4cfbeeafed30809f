"""CycloneDX SBOMs for the layer archives.

- :mod:`.metadata`: what a distribution's ``METADATA`` says (licenses, URLs, authors);
- :mod:`.markers`: which ``Requires-Dist`` apply to a layer's Python and platform;
- :mod:`.links`: BOM-Links from one layer's SBOM into a lower layer's;
- :mod:`.components`: one CycloneDX component per distribution, layer and tool;
- :mod:`.runtime`: CPython's component (and, for a CPython srcstacks built, its tarball,
  patches, configure options, bundled code and system libraries);
- :mod:`.document`: the whole document for one layer archive;
- :mod:`.check`: ``srcstacks sbom check``, schema and minimum elements.

The stage that reads the archives and writes the files is :mod:`srcstacks.sbom.stage`.
"""
