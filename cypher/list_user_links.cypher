// One user's identifiers (its one-hop neighbourhood), most recent first.
// Parameters: $user_id, $limit. Returns: type, entity_id, user_id, first_seen, last_seen, n.
MATCH (u:User {id: $user_id})-[r:USED]->(e)
RETURN CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type,
       e.id AS entity_id, u.id AS user_id, r.first_seen AS first_seen, r.last_seen AS last_seen, r.n AS n
ORDER BY r.last_seen DESC
LIMIT $limit
