// Investigator query: identifiers two users share. Parameters: $user_id, $other_user_id.
// Returns: type, entity_id.
MATCH (:User {id: $user_id})-[:USED]->(e)<-[:USED]-(:User {id: $other_user_id})
RETURN CASE WHEN e:Card THEN 'card' WHEN e:Device THEN 'device' WHEN e:IP THEN 'ip'
            WHEN e:Merchant THEN 'merchant' ELSE e.type END AS type, e.id AS entity_id
ORDER BY type, entity_id
