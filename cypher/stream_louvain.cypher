// gds.louvain.stream on a projection. Parameters: $graph_name, $config (map). Returns: type, id, value.
CALL gds.louvain.stream($graph_name, $config) YIELD nodeId, communityId
WITH gds.util.asNode(nodeId) AS n, communityId
RETURN CASE WHEN n:User THEN 'user' WHEN n:Card THEN 'card' WHEN n:Device THEN 'device' WHEN n:IP THEN 'ip'
            WHEN n:Merchant THEN 'merchant' ELSE n.type END AS type, n.id AS id, communityId AS value
