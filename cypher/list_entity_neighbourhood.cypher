// Investigator query: an identifier's two-hop neighbourhood (its users, then their other identifiers).
// Parameters: $type, $entity_id, $limit. Returns: user_id, type, entity_id (one row per second-hop link).
CALL () {
  MATCH (e:Card {id: $entity_id}) WHERE $type = 'card' RETURN e
  UNION
  MATCH (e:Device {id: $entity_id}) WHERE $type = 'device' RETURN e
  UNION
  MATCH (e:IP {id: $entity_id}) WHERE $type = 'ip' RETURN e
  UNION
  MATCH (e:Merchant {id: $entity_id}) WHERE $type = 'merchant' RETURN e
  UNION
  MATCH (e:Entity {type: $type, id: $entity_id}) RETURN e
}
MATCH (e)<-[:USED]-(u:User)-[:USED]->(x)
WHERE x <> e
RETURN u.id AS user_id,
       CASE WHEN x:Card THEN 'card' WHEN x:Device THEN 'device' WHEN x:IP THEN 'ip'
            WHEN x:Merchant THEN 'merchant' ELSE x.type END AS type, x.id AS entity_id
LIMIT $limit
