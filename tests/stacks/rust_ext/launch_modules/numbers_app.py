"""Prints a number formatted by tinyrs' Rust code, and the file of its compiled module."""

import tinyrs
import tinyrs._tinyrs

print(tinyrs.format_number(-1234567))
print(tinyrs._tinyrs.__file__)
