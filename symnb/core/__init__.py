"""The pure core: types, graph, ops, gradients, random streams, rewrites, printing."""
