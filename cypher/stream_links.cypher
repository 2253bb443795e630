// Every (:User)-[:USED]->(identifier) link, for the Python engine and exports.
// Parameters: none. Returns: type, entity_id, user_id, first_seen, last_seen, n.
MATCH (u:User)-[r:USED]->(e)
RETURN CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type,
       e.id AS entity_id, u.id AS user_id, r.first_seen AS first_seen, r.last_seen AS last_seen, r.n AS n
