"""Prints a number formatted by tinyrs' Rust code, the network its compile could see,
and the file of its compiled module."""

import tinyrs
import tinyrs._tinyrs

print(f"formatted: {tinyrs.format_number(-1234567)}")
print(f"network during the compile: {tinyrs.build_network()}")
print(f"module: {tinyrs._tinyrs.__file__}")
