#!/usr/bin/env python3
"""Reference for bench/graph, run outside the suite: networkx's Louvain on
the bipartite purchase graph bench/graph exports, and the modularity of its
partition and of rfm_micro_segments' partition, both computed by
networkx.community.modularity (weight 1 per distinct customer-item pair,
resolution 1).

    graph_networkx.py EDGES.tsv OURS.tsv [SEED]

EDGES.tsv: customer<TAB>item per distinct pair; OURS.tsv: node<TAB>community
for every node.  Prints one line of key=value pairs.
"""
import sys
import time

import networkx as nx
from networkx.algorithms import community


def main():
    edges_file, ours_file = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    graph = nx.Graph()
    with open(edges_file) as f:
        for line in f:
            a, b = line.rstrip("\n").split("\t")
            graph.add_edge(a, b)

    start = time.perf_counter()
    theirs = community.louvain_communities(graph, resolution=1.0, seed=seed)
    seconds = time.perf_counter() - start

    groups = {}
    with open(ours_file) as f:
        for line in f:
            node, c = line.rstrip("\n").split("\t")
            groups.setdefault(c, set()).add(node)
    ours = list(groups.values())

    print("nodes=%d edges=%d networkx=%s louvain_seconds=%.1f louvain_communities=%d "
          "louvain_modularity=%.6f ours_communities=%d ours_modularity=%.6f"
          % (graph.number_of_nodes(), graph.number_of_edges(), nx.__version__, seconds,
             len(theirs), community.modularity(graph, theirs), len(ours),
             community.modularity(graph, ours)))


if __name__ == "__main__":
    main()
