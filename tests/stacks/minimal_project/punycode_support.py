"""A support module: deployed beside the launch module in the application layer."""

import idna


def encode(name: str) -> str:
    return idna.encode(name).decode("ascii")
