// gds.pageRank.stream on a projection. Parameters: $graph_name, $config (map). Returns: type, id, value.
CALL gds.pageRank.stream($graph_name, $config) YIELD nodeId, score
WITH gds.util.asNode(nodeId) AS n, score
RETURN CASE WHEN n:User THEN 'user' WHEN n:Card THEN 'card' WHEN n:Device THEN 'device' WHEN n:IP THEN 'ip'
            WHEN n:Merchant THEN 'merchant' ELSE n.type END AS type, n.id AS id, score AS value
