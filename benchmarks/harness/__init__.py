"""Benchmark harness: our algorithms (through the real runner) against peer libraries, side by side.

The harness owns everything that must be equal for every optimizer: the problems, one neutral
search space per problem, the budget in full-fidelity equivalents with one cache and cost model,
the incumbent (judged here, at the highest fidelity, never by an optimizer) and the measures.
"""
