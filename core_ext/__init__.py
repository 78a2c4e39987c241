"""Pure compute kernels of Kota Twin: arrays in, arrays out.

Numba kernels for the per-step traffic dynamics and Cython extensions for graph
search over CSR arrays. A slow, readable reference of each kernel's semantics
lives in :mod:`core_ext.reference` for differential tests. Nothing here imports
the rest of the project, does I/O or keeps global state.
"""
