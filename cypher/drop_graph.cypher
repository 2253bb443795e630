// Drop a GDS projection if it exists. Parameters: $graph_name. Returns: graphName (or no row).
CALL gds.graph.drop($graph_name, false) YIELD graphName
RETURN graphName
