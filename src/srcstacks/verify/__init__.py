"""``srcstacks verify``: a finished build checked against its records, down to a
bit-for-bit rebuild."""
