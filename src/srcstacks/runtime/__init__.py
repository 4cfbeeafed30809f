"""The runtime layers' CPython: the interpreters that build and run a stack, packed from
a local installation, built from CPython's source, or downloaded."""
