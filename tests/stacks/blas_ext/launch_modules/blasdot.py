"""Print a dot product computed by BLAS, through tinyblas' Fortran routine."""

import tinyblas

print("blas dot:", tinyblas.dot([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
