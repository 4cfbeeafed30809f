"""Test application: imports every package of the stack, frozenlist's C extension too."""

import attrs
import frozenlist
import idna
import six
import tomlkit
from frozenlist import _frozenlist  # the compiled one: no pure-Python fallback here


def main() -> None:
    frozen = frozenlist.FrozenList([idna.encode("bücher.example").decode("ascii")])
    frozen.freeze()
    print(attrs.__version__, six.__version__, tomlkit.dumps({"items": list(frozen)}).strip())
    print(_frozenlist.FrozenList is frozenlist.FrozenList)


if __name__ == "__main__":
    main()
