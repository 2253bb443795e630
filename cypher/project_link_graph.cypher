// Project the algorithms' graph into GDS (undirected), as stream_link_graph.cypher selects it.
// Parameters: $graph_name, $types, $limits, $default_limit. Returns: node_count, relationship_count.
MATCH (u:User)-[:USED]->(e)
WITH u, e, CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
                WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type
WHERE type IN $types AND COUNT { (e)<-[:USED]-(:User) } <= coalesce($limits[type], $default_limit)
WITH gds.graph.project($graph_name, u, e, {}, {undirectedRelationshipTypes: ['*']}) AS g
RETURN g.nodeCount AS node_count, g.relationshipCount AS relationship_count
