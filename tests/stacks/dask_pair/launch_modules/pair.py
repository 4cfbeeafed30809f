"""Test application: uses both packages of the stack."""

import idna
import tomli


def main() -> None:
    print(idna.encode("bücher.example").decode("ascii"), tomli.loads("a = 1")["a"])


if __name__ == "__main__":
    main()
