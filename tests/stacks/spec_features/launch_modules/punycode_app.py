"""Encodes a name with idna, from the versioned framework, through a support module."""

from punycode_support import encode

print("punycode:", encode("bücher.example"))
