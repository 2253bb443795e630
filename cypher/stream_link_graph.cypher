// The graph the algorithms run on: User-USED-identifier links of the linking types, hubs left out.
// Parameters: $types (list of type names), $limits (map type -> most users an identifier may link before
// it is a hub), $default_limit (int). Returns: user_id, type, entity_id.
MATCH (u:User)-[:USED]->(e)
WITH u, e, CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
                WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type
WHERE type IN $types AND COUNT { (e)<-[:USED]-(:User) } <= coalesce($limits[type], $default_limit)
RETURN u.id AS user_id, type, e.id AS entity_id
