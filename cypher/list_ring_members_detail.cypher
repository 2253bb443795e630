// Investigator query: the members of one ring with their identifiers.
// Parameters: $ring_id. Returns: user_id, type, entity_id.
MATCH (m:RingMember {ring_id: $ring_id})
MATCH (u:User {id: m.user_id})
OPTIONAL MATCH (u)-[:USED]->(e)
RETURN u.id AS user_id,
       CASE WHEN e IS NULL THEN null WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type, e.id AS entity_id
ORDER BY user_id, type, entity_id
